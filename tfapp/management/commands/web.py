"""``manage.py web``: Django's development server with room for bursts of uploads.

This is the web process ``serve`` starts. It is ``runserver`` (static files and,
with DEBUG, media served by Django) with a longer listen backlog: runserver's
server lets 10 connections wait, and the kernel resets the rest when many
browsers upload at once.
"""
from django.contrib.staticfiles.management.commands.runserver import (
    Command as RunserverCommand,
)
from django.core.servers.basehttp import WSGIServer


class BacklogWSGIServer(WSGIServer):
    request_queue_size = 1024


class Command(RunserverCommand):
    help = "Serve the site (runserver with a listen backlog of 1024); `serve` starts it beside the workers."
    server_cls = BacklogWSGIServer

"""WSGI entry point. Finds out which style-transfer methods can run before the first request.

Web processes never load the networks (workers do), so each holds little memory.
"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.production")
application = get_wsgi_application()

from tfapp.engines import availability  # noqa: E402  (needs the app registry ready)

availability()

"""WSGI entry point. Gets each web process ready before its first request.

- It finds out which style-transfer methods can run. Web processes never load the
  networks (workers do), so each holds little memory.
- It compiles the page templates and builds the URL resolver, work the first requests
  would otherwise do while others wait.
- Then it freezes what exists so far (``gc.freeze``). Importing the app leaves about
  350,000 objects that live as long as the process. Each full pass of Python's cyclic
  garbage collector would walk all of them, holding up every request of the process:
  350 ms on an idle 2-core machine, up to 1.2 s under load.
"""
import gc
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.production")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (the imports below need the app registry ready)
from django.template.loader import get_template  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from tfapp.engines import availability  # noqa: E402

availability()
for folder in settings.TEMPLATES[0]["DIRS"]:
    for template in sorted(Path(folder).rglob("*.html")):
        get_template(template.relative_to(folder).as_posix())
get_resolver().resolve("/")
gc.freeze()

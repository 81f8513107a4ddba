"""WSGI entry point. Loads the style-transfer model before the first request is served."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.production")
application = get_wsgi_application()

from tfapp.engines import warm_up  # noqa: E402  (needs the app registry ready)

warm_up()

import os

from django.core.servers import basehttp
from django.core.wsgi import get_wsgi_application

from ydpipelines.middleware import SERVER_NAME

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
application = get_wsgi_application()

# The development server (`make run`) answers static files without the app's middleware, and
# its default Server header names Python's version; gunicorn does not use this class.
basehttp.ServerHandler.server_software = SERVER_NAME

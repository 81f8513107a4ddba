from django.urls import path

from . import views

app_name = "tfapp"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("gallery/", views.GalleryView.as_view(), name="gallery"),
    path("t/<uuid:public_id>/", views.detail, name="detail"),
    path("t/<uuid:public_id>/status.json", views.status, name="status"),
    path("t/<uuid:public_id>/retry/", views.retry, name="retry"),
    path("t/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("t/<uuid:public_id>/try/", views.try_method, name="try_method"),
    path("t/<uuid:public_id>/download/", views.download, name="download"),
]

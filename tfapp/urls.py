from django.urls import path

from . import views

app_name = "tfapp"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("gallery/", views.GalleryView.as_view(), name="gallery"),
    path("gallery/mine/", views.GalleryView.as_view(scope="mine"), name="gallery-mine"),
    path("gallery/public/", views.GalleryView.as_view(scope="public"), name="gallery-public"),
    path("t/<uuid:public_id>/", views.detail, name="detail"),
    path("t/<uuid:public_id>/status.json", views.status, name="status"),
    path("t/<uuid:public_id>/retry/", views.retry, name="retry"),
    path("t/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("t/<uuid:public_id>/try/", views.try_method, name="try_method"),
    path("t/<uuid:public_id>/download/", views.download, name="download"),
    path("t/<uuid:public_id>/share/", views.share, name="share"),
    path("t/<uuid:public_id>/delete/", views.delete, name="delete"),
]

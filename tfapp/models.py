import uuid

from django.db import models
from django.urls import reverse
from django.utils import timezone


def transfer_path(instance, filename):
    """Every file of a transfer lives under ``transfers/<public id>/``, so names never collide."""
    return f"transfers/{instance.public_id}/{filename}"


class TransferQuerySet(models.QuerySet):
    def finished(self):
        return self.filter(status=Transfer.Status.DONE)

    def recent(self):
        return self.order_by("-created_at")


class Transfer(models.Model):
    """One stylization: the two inputs, the parameters used, and the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField("public id", default=uuid.uuid4, unique=True, editable=False)
    content_image = models.ImageField(upload_to=transfer_path, width_field="content_width",
                                      height_field="content_height")
    style_image = models.ImageField(upload_to=transfer_path)
    result_image = models.ImageField(upload_to=transfer_path, blank=True)
    content_thumbnail = models.ImageField(upload_to=transfer_path, blank=True)
    style_thumbnail = models.ImageField(upload_to=transfer_path, blank=True)
    result_thumbnail = models.ImageField(upload_to=transfer_path, blank=True)
    content_width = models.PositiveIntegerField(null=True, editable=False)
    content_height = models.PositiveIntegerField(null=True, editable=False)

    engine = models.CharField(max_length=16)
    max_size = models.PositiveIntegerField(help_text="Long side of the result, in pixels.")
    style_size = models.PositiveIntegerField(help_text="Long side the style image is seen at, in pixels.")
    style_pooling = models.BooleanField(default=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error_message = models.TextField(blank=True)
    result_width = models.PositiveIntegerField(null=True, blank=True)
    result_height = models.PositiveIntegerField(null=True, blank=True)
    preprocess_seconds = models.FloatField(null=True, blank=True, help_text="Decoding and resizing both inputs.")
    model_seconds = models.FloatField(null=True, blank=True, help_text="The style-transfer network itself.")
    encode_seconds = models.FloatField(null=True, blank=True, help_text="Encoding and storing the result.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Transfer {str(self.public_id)[:8]} ({self.get_status_display().lower()})"

    def get_absolute_url(self):
        return reverse("tfapp:detail", args=[self.public_id])

    @property
    def total_seconds(self):
        parts = (self.preprocess_seconds, self.model_seconds, self.encode_seconds)
        return None if None in parts else sum(parts)

    def files(self):
        """The stored files of this transfer that exist."""
        fields = (self.content_image, self.style_image, self.result_image,
                  self.content_thumbnail, self.style_thumbnail, self.result_thumbnail)
        return [field for field in fields if field]

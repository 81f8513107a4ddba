import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from . import trained_styles
from .lists import NEWEST_FIRST, NewestVisible


def transfer_path(instance, filename):
    """Every file of a transfer lives under ``transfers/<public id>/``, so names never collide."""
    return f"transfers/{instance.public_id}/{filename}"


def transfer_style_path(instance, filename):
    return transfer_path(instance.transfer, filename)


class StylePresetQuerySet(models.QuerySet):
    def offered(self):
        """The presets for a page or a list, without their style vectors (only workers read those)."""
        return self.defer("style_vectors")


def style_vector_key(engine, style_size, pooling):
    """Key of a cached style vector (in ``style_vectors`` of a preset or a transfer's style): it depends on all three."""
    return f"{engine}:{style_size}:{'pooled' if pooling else 'sharp'}"


class StylePreset(models.Model):
    """A painting offered on the upload page, with its style vectors computed once and kept."""

    name = models.CharField(max_length=120, unique=True)
    artist = models.CharField(max_length=120, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    licence = models.CharField(max_length=120, default="Public domain")
    image = models.ImageField(upload_to="presets/")
    thumbnail = models.ImageField(upload_to="presets/", blank=True)
    style_vectors = models.JSONField(default=dict, blank=True, editable=False,
                                     help_text="Style vectors by engine, style size and smoothing.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = StylePresetQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        details = ", ".join(str(part) for part in (self.artist, self.year) if part)
        return f"{self.name} ({details})" if details else self.name

    def files(self):
        return [field for field in (self.image, self.thumbnail) if field]



class JobQuerySet(models.QuerySet):
    def pending(self):
        """Jobs waiting for a worker or being worked on."""
        return self.filter(status__in=Job.PENDING)

    def stalled(self, heartbeat_before):
        """Running jobs whose worker has not reported since ``heartbeat_before``."""
        return self.filter(status=Job.Status.RUNNING, heartbeat_at__lt=heartbeat_before)


class Job(models.Model):
    """What every long piece of work records, transfers and training runs alike; see :mod:`tfapp.jobs`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    #: Waiting for a worker, or being worked on.
    PENDING = (Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker started it.")
    worker = models.CharField(max_length=128, blank=True, help_text="The worker (host-pid) that last started it.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class TransferQuerySet(JobQuerySet):
    def owned_by(self, ownership):
        """The transfers of a signed-in user or of an anonymous browser session (see tfapp.ownership)."""
        return self.filter(ownership.lookup())

    def visible_to(self, ownership):
        """What one visitor's lists show, newest first: their own transfers and the shared ones (see NewestVisible)."""
        return NewestVisible(self, ownership)

    def shared(self):
        return self.filter(shared=True)

    def finished(self):
        return self.filter(status=Transfer.Status.DONE)

    def recent(self):
        return self.order_by(*NEWEST_FIRST)

    def queue_positions(self):
        """The place in its queue (1 = next) of each queued transfer, by public id."""
        queued = self.filter(status=Transfer.Status.QUEUED).order_by("queued_at").values_list(
            "public_id", "queue", "queued_at")
        positions, counts, last = {}, {}, {}
        for public_id, queue, queued_at in queued:
            counts[queue] = counts.get(queue, 0) + 1
            # Transfers queued at the same instant share a place, as in Transfer.queue_position.
            if last.get(queue, (None,))[0] != queued_at:
                last[queue] = (queued_at, counts[queue])
            positions[public_id] = last[queue][1]
        return positions

    def same_inputs_as(self, public_id):
        """The transfer with this public id and the others of its inputs (run with other methods), oldest first."""
        inputs = Transfer.objects.filter(public_id=public_id).values("inputs_id")[:1]
        return self.filter(inputs_id=models.Subquery(inputs)).order_by("created_at")

    def overdue(self, started_before, queue):
        """Running transfers of ``queue`` that started before ``started_before``."""
        return self.filter(status=Transfer.Status.RUNNING, queue=queue, started_at__lt=started_before)


class Transfer(Job):
    """One stylization: the two inputs, the parameters used, and the outcome."""

    public_id = models.UUIDField("public id", default=uuid.uuid4, unique=True, editable=False)
    content_image = models.ImageField(upload_to=transfer_path, width_field="content_width",
                                      height_field="content_height")
    result_image = models.ImageField(upload_to=transfer_path, blank=True)
    content_thumbnail = models.ImageField(upload_to=transfer_path, blank=True)
    result_thumbnail = models.ImageField(upload_to=transfer_path, blank=True)
    content_width = models.PositiveIntegerField(null=True, editable=False)
    content_height = models.PositiveIntegerField(null=True, editable=False)

    method = models.CharField(max_length=64, default="magenta", db_index=True,
                              help_text="The style-transfer method (see tfapp.engines).")
    quality = models.CharField(max_length=16, blank=True, help_text="The method's quality preset, if it has any.")
    queue = models.CharField(max_length=16, default="default", help_text="The job queue it runs in.")
    inputs_id = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False,
                                 help_text="Shared by transfers of the same inputs run with other methods.")
    engine = models.CharField(max_length=16, help_text="The implementation that ran it.")
    max_size = models.PositiveIntegerField(help_text="Long side of the result, in pixels.")
    style_size = models.PositiveIntegerField(help_text="Long side the style image is seen at, in pixels.")
    style_pooling = models.BooleanField(default=True)
    strength = models.PositiveSmallIntegerField(default=100, help_text="Stylization strength, 0-100 %.")
    preserve_colours = models.BooleanField(default=False, help_text="Keep the photo's colours.")
    regions_mask = models.ImageField(upload_to=transfer_path, blank=True,
                                     help_text="Regions painted on the photo: a greyscale PNG whose values 0-3 are "
                                               "the regions (see tfapp.regions); empty without regions.")
    region_styles = models.CharField(max_length=40, blank=True,
                                     help_text="Each region's style: its 1-based position or keep, e.g. 2,1,keep.")
    feather = models.PositiveSmallIntegerField(default=0, help_text="Softened edge between regions, in pixels.")

    result_width = models.PositiveIntegerField(null=True, blank=True)
    result_height = models.PositiveIntegerField(null=True, blank=True)
    preprocess_seconds = models.FloatField(null=True, blank=True, help_text="Decoding and resizing both inputs.")
    model_seconds = models.FloatField(null=True, blank=True, help_text="The style-transfer network itself.")
    encode_seconds = models.FloatField(null=True, blank=True, help_text="Encoding and storing the result.")
    progress = models.FloatField(null=True, blank=True, help_text="Share of the work done, 0-1, while it runs.")
    progress_steps = models.PositiveIntegerField(default=0, help_text="Steps (iterations) reported so far.")
    preview_image = models.ImageField(upload_to=transfer_path, blank=True,
                                      help_text="The latest intermediate image while it runs.")
    # A clip: content_image holds its first frame and result_image the poster, a finished frame.
    content_clip = models.FileField(upload_to=transfer_path, blank=True, help_text="The uploaded clip, if a video.")
    result_clip = models.FileField(upload_to=transfer_path, blank=True, help_text="The stylized clip (H.264 MP4).")
    consistency = models.FloatField(null=True, blank=True, help_text="A clip's temporal consistency, 0-1.")
    frames_total = models.PositiveIntegerField(null=True, blank=True, help_text="A clip's frames.")
    frames_done = models.PositiveIntegerField(default=0, help_text="A clip's frames finished so far.")
    client = models.CharField(max_length=64, blank=True, db_index=True,
                              help_text="Hashed address of the client that submitted it, for per-client limits.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="transfers", help_text="The signed-in user who created it.")
    visitor = models.CharField(max_length=64, blank=True,
                               help_text="The anonymous browser session that created it, until its user signs in.")
    shared = models.BooleanField("shared in the public gallery", default=False)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # The lists, newest first: each owner's transfers, and the shared ones (see NewestVisible).
        # Django tests a boolean as the bare column, which only a partial index serves.
        indexes = [
            models.Index(fields=["owner", "status", "created_at"], name="transfer_owner_newest"),
            models.Index(fields=["visitor", "status", "created_at"], name="transfer_visitor_newest"),
            models.Index(fields=["status", "created_at"], condition=models.Q(shared=True), name="transfer_shared_newest"),
        ]

    def __str__(self):
        return f"Transfer {str(self.public_id)[:8]} ({self.get_status_display().lower()})"

    def get_absolute_url(self):
        return reverse("tfapp:detail", args=[self.public_id])

    @property
    def queue_position(self):
        """1 for the next transfer a worker of its queue will take; None unless queued."""
        if self.status != self.Status.QUEUED:
            return None
        ahead = Transfer.objects.filter(status=self.Status.QUEUED, queue=self.queue, queued_at__lt=self.queued_at)
        return ahead.count() + 1

    @property
    def wait_seconds(self):
        """Time spent queued before a worker started it."""
        return (self.started_at - self.queued_at).total_seconds() if self.started_at else None

    @property
    def run_seconds(self):
        """Time from a worker starting it to the outcome."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_clip(self):
        return bool(self.content_clip)

    @property
    def total_seconds(self):
        parts = (self.preprocess_seconds, self.model_seconds, self.encode_seconds)
        return None if None in parts else sum(parts)

    @property
    def content_preview(self):
        """The photo's thumbnail, or the photo until its worker has made one."""
        return self.content_thumbnail or self.content_image

    @property
    def result_preview(self):
        """The result's thumbnail, or the result until its worker has made one."""
        return self.result_thumbnail or self.result_image

    def files(self):
        """The stored files of this transfer and its styles that exist."""
        fields = (self.content_image, self.result_image, self.content_thumbnail, self.result_thumbnail,
                  self.preview_image, self.regions_mask, self.content_clip, self.result_clip)
        own = [field for field in fields if field]
        return own + [stored for style in self.styles.all() for stored in style.files()] if self.pk else own

    @property
    def first_style(self):
        """The first style (uses prefetched styles when the query prefetched them)."""
        styles = list(self.styles.all())
        return styles[0] if styles else None


class TransferStyleQuerySet(models.QuerySet):
    def shown(self):
        """Styles for a page, with their presets, without the style vectors only workers read."""
        return self.select_related("preset").defer("style_vectors", "preset__style_vectors")


class TransferStyle(models.Model):
    """One of the (up to four) styles of a transfer, blended by weight."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="styles")
    position = models.PositiveSmallIntegerField()
    weight = models.FloatField(default=1.0)
    image = models.ImageField(upload_to=transfer_style_path)
    thumbnail = models.ImageField(upload_to=transfer_style_path, blank=True)
    preset = models.ForeignKey(StylePreset, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="uses", help_text="The preset this style came from, if any.")
    style_vectors = models.JSONField(default=dict, blank=True, editable=False,
                                     help_text="An uploaded style's encodings by engine, style size and smoothing, "
                                               "kept for retries and re-runs.")

    objects = TransferStyleQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["transfer", "position"], name="one_style_per_position")]

    def __str__(self):
        return str(self.preset or f"Uploaded style {self.position + 1}")

    @property
    def preview(self):
        """The style's thumbnail, or the style image until a worker has made one."""
        return self.thumbnail or self.image

    @property
    def share_percent(self):
        """This style's weight as a whole-number percentage of all the transfer's weights."""
        total = sum(style.weight for style in self.transfer.styles.all())
        return round(100 * self.weight / total) if total else 0

    def files(self):
        return [field for field in (self.image, self.thumbnail) if field]


class ApiTokenQuerySet(models.QuerySet):
    def matching(self, key):
        """The token whose hash is that of ``key`` (none when revoked or unknown)."""
        return self.filter(key_hash=ApiToken.hash(key)).select_related("user").first()


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 is stored, so a leaked database reveals no usable token.

    The key is 32 random bytes, so a fast hash is as safe as a slow one here.
    """

    PREFIX = "rst_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What the token is for, to recognise it later.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The token's first characters.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()
    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user, name):
        """Create a token; returns it and its key, which is shown once and never stored."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=cls.hash(key), hint=key[:len(cls.PREFIX) + 4])
        return token, key

    @staticmethod
    def hash(key):
        return hashlib.sha256(key.encode()).hexdigest()


def training_path(instance, filename):
    return f"training/{instance.name}/{filename}"


class TrainingRun(Job):
    """A style network being trained for a preset in a slow-queue worker (``train_style`` from the admin)."""

    name = models.CharField(max_length=40, help_text="The trained style's name: it is offered as trained:NAME.")
    preset = models.ForeignKey(StylePreset, on_delete=models.SET_NULL, null=True, related_name="training_runs")
    photos = models.CharField(max_length=500, help_text="Folder of training photos on the server.")
    steps = models.PositiveIntegerField()
    size = models.PositiveIntegerField(help_text="Side of the square training crops, in pixels.")
    batch = models.PositiveSmallIntegerField()
    step = models.PositiveIntegerField(default=0, help_text="Steps done so far.")
    losses = models.JSONField(default=dict, blank=True, help_text="The loss terms at the latest step.")
    validation_image = models.ImageField(upload_to=training_path, blank=True,
                                         help_text="The held-aside photo as the network stylized it at the latest "
                                                   "checkpoint.")

    objects = JobQuerySet.as_manager()
    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Training {trained_styles.method_name(self.name)} ({self.get_status_display().lower()})"


class ApiRateCountQuerySet(models.QuerySet):
    def count_request(self, key):
        """Add one request to the counter ``key`` and return its new count, atomically across processes."""
        with transaction.atomic():
            if self.filter(key=key).update(count=F("count") + 1):
                return self.get(key=key).count
            try:
                with transaction.atomic():
                    self.create(key=key, count=1)
                return 1
            except IntegrityError:  # another process made it first
                self.filter(key=key).update(count=F("count") + 1)
                return self.get(key=key).count


class ApiRateCount(models.Model):
    """API requests counted for one caller in one time window, shared by every web process."""

    key = models.CharField(max_length=120, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ApiRateCountQuerySet.as_manager()

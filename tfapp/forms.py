import warnings

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import Image

from . import clip_uploads, conf, engines, regions, reruns, submission
from .exceptions import InvalidImage, TrainingError
from .imaging import EXTENSIONS
from .metadata import without_metadata
from .models import StylePreset, TrainingRun
from .pipeline import Options
from .processing import ClipChoice, ImageInput, create_transfer
from .submission import style_field
from .trained_styles import published_names
from .training_photos import PhotoFolder
from .training_runs import RunFolder, TrainingSettings, check_name

ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff"


class ImageUploadField(forms.FileField):
    """An uploaded image, checked by its decoded content, not its name or declared type.

    The byte size and the pixel count (read from the header) are checked before any
    pixel is decoded, so a decompression bomb is refused cheaply; then the file is
    stripped of its metadata, which decodes what will be stored once
    (:func:`tfapp.metadata.without_metadata`), so a damaged one is refused here rather
    than failing in a worker. The cleaned value is the uploaded file with the extension
    of its real format attached as ``.extension``, and the ``(bytes, extension)`` to
    store as ``.without_metadata``.
    """

    default_error_messages = {
        "file_too_large": "This file is %(size)s; the limit is %(limit)s.",
        "not_an_image": "This file is not an image. Upload a JPEG, PNG, WebP, GIF, BMP or TIFF file.",
        "unsupported_format": "%(format)s images are not supported. Upload a JPEG, PNG, WebP, GIF, BMP or TIFF file.",
        "too_many_pixels": "This image is %(width)s x %(height)s pixels; the limit is %(limit)s megapixels.",
        "decompression_bomb": "This image has far too many pixels to be processed.",
        "corrupt_image": "This image is damaged or truncated and could not be decoded.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", ACCEPT_ATTRIBUTE)

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        self._check_bytes(upload)
        upload.extension = EXTENSIONS[self._check_header(upload)]
        try:
            upload.without_metadata = without_metadata(upload)
        except InvalidImage as error:
            raise ValidationError(self.error_messages["corrupt_image"], code="corrupt_image") from error
        return upload

    def _check_bytes(self, upload):
        limit = conf.max_upload_bytes()
        if upload.size > limit:
            raise ValidationError(
                self.error_messages["file_too_large"], code="file_too_large",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )

    def _check_header(self, upload):
        upload.seek(0)
        try:
            # Opening reads only the header; Pillow's own bomb warning is moot since we check below.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(upload) as image:
                    image_format, (width, height) = image.format, image.size
                    upload.pixel_size = (width, height)
        except Image.DecompressionBombError as error:
            raise ValidationError(self.error_messages["decompression_bomb"], code="too_many_pixels") from error
        except (OSError, ValueError, SyntaxError) as error:
            raise ValidationError(self.error_messages["not_an_image"], code="not_an_image") from error
        if image_format not in EXTENSIONS:
            raise ValidationError(self.error_messages["unsupported_format"], code="unsupported_format",
                                  params={"format": image_format or "These"})
        if width * height > conf.max_upload_pixels():
            raise ValidationError(
                self.error_messages["too_many_pixels"], code="too_many_pixels",
                params={"width": width, "height": height, "limit": round(conf.max_upload_pixels() / 1e6, 1)},
            )
        return image_format


#: The field each of tfapp.regions' error codes is shown at (the others are the mask's).
REGION_ERROR_FIELDS = {"region_style_missing": "region_styles", "feather": "feather"}

#: What the photo's field also takes: clips (see tfapp.clip_uploads).
CLIP_ACCEPT_ATTRIBUTE = "video/mp4,video/quicktime,video/webm,video/x-matroska,.mkv"


class ContentUploadField(ImageUploadField):
    """The photo, or a clip (a video, or an animated GIF/WebP), checked with ``video.probe``.

    A clip's cleaned value is a :class:`~tfapp.clip_uploads.ClipInput`; its limits
    (duration, size, frames, bytes) are the video settings, not the photo's.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs["accept"] = f"{ACCEPT_ATTRIBUTE},{CLIP_ACCEPT_ATTRIBUTE}"

    def to_python(self, data):
        upload = forms.FileField.to_python(self, data)
        if upload is not None and clip_uploads.is_clip(upload):
            return clip_uploads.clip_from_upload(upload)
        return super().to_python(data)


STYLE_SLOTS = 4
STYLE_SIZES = (128, 192, 256, 384, 512)


class RangeInput(forms.NumberInput):
    input_type = "range"


class RegionFields(forms.Form):
    """The regions painted on the photo (:mod:`tfapp.regions`): a mask, each region's style and the feather."""

    mask = forms.FileField(
        label="Regions", required=False,
        help_text="Regions painted on the photo: a PNG of the photo's size or aspect ratio, one 8-bit channel "
                  "whose value k (0-3) puts the pixel in region k. Leave it out to style the whole photo.")
    region_styles = forms.CharField(
        label="Region styles", required=False, max_length=40,
        help_text="Each region's style, region 0 first: the 1-based position of a style given, or keep "
                  "(the photo stays there), e.g. 2,1,keep. Default: region k takes style k+1.")
    feather = forms.IntegerField(
        label="Feather", required=False, initial=0,
        widget=forms.NumberInput(attrs={"min": 0, "max": regions.MAX_FEATHER, "step": 1}),
        help_text=f"Softens the edges between regions, in pixels of the photo (0-{regions.MAX_FEATHER}).")

    def painted_regions(self, cleaned, photo, style_count):
        """The regions painted on ``photo`` (an ImageInput, stored upright) for ``style_count`` styles (a
        tfapp.regions.Regions), or None when no mask was sent or it is refused (the error is at its field)."""
        mask = cleaned.get("mask")
        if not mask or photo is None:
            return None
        limit = conf.max_upload_bytes()
        if mask.size > limit:
            self.add_error("mask", ValidationError(
                ImageUploadField.default_error_messages["file_too_large"], code="file_too_large",
                params={"size": filesizeformat(mask.size), "limit": filesizeformat(limit)}))
            return None
        try:
            return regions.build(mask, photo.size(), style_count, cleaned.get("region_styles"), cleaned.get("feather"))
        except regions.RegionError as error:
            self.add_error(REGION_ERROR_FIELDS.get(error.code, "mask"), ValidationError(str(error), code=error.code))
            return None


class TransferForm(RegionFields):
    """A photo, one to four styles (uploads or presets) with weights, and the creative controls.

    With ``source`` (the public id of an earlier transfer) any input left empty is taken
    from that transfer, which is how "re-run with changes" works.
    """

    content_image = ContentUploadField(
        label="Photo or clip", required=False,
        help_text="The picture to repaint, or a clip (MP4, MOV, WebM, MKV, animated GIF).")
    method = forms.ChoiceField(label="Method", required=False, help_text="How the photo is repainted.")
    quality = forms.ChoiceField(label="Quality", required=False,
                                help_text="More iterations at more scales: finer, and slower.")
    strength = forms.IntegerField(
        label="Strength", min_value=0, max_value=100, initial=100, widget=RangeInput, required=False,
        help_text="How far from your photo towards the painting's style.")
    preserve_colours = forms.BooleanField(
        label="Keep the photo's colours", required=False,
        help_text="Transfer brush strokes and texture only, not the painting's palette.")
    style_size = forms.TypedChoiceField(
        label="Style scale", coerce=int, choices=[(size, f"{size} px") for size in STYLE_SIZES], required=False,
        empty_value=None,
        help_text="The size the painting is seen at: 128 px gives coarser brush strokes than 256 px.")
    output_size = forms.TypedChoiceField(label="Output size", coerce=int, required=False, empty_value=None,
                                         help_text="Long side of the result; photos are never enlarged.")
    consistency = forms.FloatField(
        label="Steadiness", min_value=0, max_value=1, required=False, widget=RangeInput(attrs={"step": "0.05"}),
        help_text="Clips only: how much of each frame follows the previous one's painting (0: frames painted alone, "
                  "which flicker).")
    source = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, client="", ownership=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client
        self.ownership = ownership
        self.source = None
        presets = StylePreset.objects.offered()
        for slot in range(STYLE_SLOTS):
            self.fields[style_field("image", slot)] = ImageUploadField(
                label="Style" if slot == 0 else f"Style {slot + 1}", required=False)
            self.fields[style_field("preset", slot)] = forms.ModelChoiceField(
                presets, required=False, empty_label="No preset", label="Painting")
            self.fields[style_field("weight", slot)] = forms.IntegerField(
                label="Weight", min_value=0, max_value=100, initial=100 if slot == 0 else 50, required=False)
        self.fields["style_size"].initial = conf.style_size()
        self.fields["consistency"].initial = conf.video_consistency()
        self.fields["output_size"].choices = [(size, f"{size} px") for size in conf.output_sizes()]
        self.fields["output_size"].initial = conf.max_content_size()
        self.methods = engines.offers()
        self.fields["method"].choices = [(method.name, method.label) for method in self.methods]
        self.fields["method"].initial = engines.DEFAULT_METHOD
        qualities = dict.fromkeys(quality for method in self.methods for quality in method.capabilities.qualities)
        self.fields["quality"].choices = [("", "Default")] + [(quality, engines.QUALITY_LABELS.get(quality, quality))
                                                               for quality in qualities]
        self._disable_what_the_method_cannot_do()

    def _disable_what_the_method_cannot_do(self):
        """The page opens with the controls of the chosen method; its script switches them with the choice."""
        capabilities = self.selected_method.capabilities
        if not capabilities.strength:
            self.fields["strength"].widget.attrs["disabled"] = True
        if not capabilities.qualities:
            self.fields["quality"].widget.attrs["disabled"] = True

    @property
    def selected_method(self):
        """The offer of the method chosen (in the submitted data, the initial data, or the default)."""
        name = (self.data.get("method") if self.is_bound else None) or self.initial.get("method") or \
            engines.DEFAULT_METHOD
        return next((offer for offer in self.methods if offer.name == name), self.methods[0])

    def style_slots(self):
        """The bound fields of each style slot, for the template."""
        return [{"number": slot + 1, "image": self[style_field("image", slot)],
                 "preset": self[style_field("preset", slot)], "weight": self[style_field("weight", slot)]}
                for slot in range(STYLE_SLOTS)]

    def clean(self):
        cleaned = super().clean()
        self.source = submission.source_transfer(cleaned.get("source"))
        cleaned["method"] = cleaned.get("method") or engines.DEFAULT_METHOD
        submission.check_available(cleaned["method"])
        submission.check_queue(self.client)
        self.clip = None
        self.content = self._content(cleaned.get("content_image"))
        self.styles = self._styles(cleaned)
        self.resolved_options = options_from(cleaned).resolved()
        self.regions = self.painted_regions(cleaned, self.content, len(self.styles))
        clip_info = self.clip.info if self.clip else None
        self.clip_queue = submission.check_method(
            cleaned["method"], len([style for style in self.styles if style.weight > 0]), self.resolved_options,
            None if clip_info else self._photo_size(cleaned), self.regions is not None, clip_info)
        return cleaned

    def _content(self, upload):
        if isinstance(upload, clip_uploads.ClipInput):
            self.clip = upload
            return upload.still
        if upload:
            return ImageInput.from_upload(upload)
        if self.source and self.source.is_clip:
            self.clip = submission.stored_clip(self.source)
            return self.clip.still
        if self.source:
            return submission.stored(self.source.content_image, "the transfer to re-run")
        if self.has_error("content_image"):
            return None  # refused already, with the reason
        self.add_error("content_image", ValidationError(self.fields["content_image"].error_messages["required"],
                                                        code="required"))
        return None

    def _styles(self, cleaned):
        """The chosen styles; when none is chosen on a re-run, the earlier transfer's, reweighted."""
        chosen = [(slot, cleaned.get(style_field("image", slot)), cleaned.get(style_field("preset", slot)))
                  for slot in range(STYLE_SLOTS)]
        chosen = [(slot, upload, preset) for slot, upload, preset in chosen if upload or preset]
        self._styles_from_source = not chosen
        return submission.style_choices(engines.method_class(cleaned["method"]), chosen, self.source,
                                        lambda slot: self._weight(cleaned, slot))

    def _weight(self, cleaned, slot):
        weight = cleaned.get(style_field("weight", slot))
        return float(self.fields[style_field("weight", slot)].initial if weight is None else weight)

    def _photo_size(self, cleaned):
        """The photo's ``(width, height)``: the upload's, or the re-run transfer's; ``None`` when unknown."""
        upload = cleaned.get("content_image")
        photo = getattr(upload, "pixel_size", None) or (
            (self.source.content_width, self.source.content_height) if self.source else None)
        return None if not photo or None in photo else photo

    def save(self):
        """Store the inputs as a new queued transfer, with the options resolved in ``clean``, and return it."""
        clip = None
        if self.clip:
            consistency = self.cleaned_data.get("consistency")
            clip = ClipChoice(self.clip.input, self.clip.info.frames, queue=self.clip_queue,
                              consistency=conf.video_consistency() if consistency is None else consistency)
        return create_transfer(self.content, self.styles, options=self.resolved_options, client=self.client,
                               ownership=self.ownership, inputs_id=self._inputs_id(), regions=self.regions, clip=clip)

    def _inputs_id(self):
        """The source's inputs id when this re-run reuses its photo, styles and regions unchanged, else None."""
        if not self.source or self.cleaned_data.get("content_image") or not self._styles_from_source or \
                not reruns.same_regions(self.regions, self.source):
            return None
        return self.source.inputs_id


def options_from(data):
    """The transfer's Options from the form's cleaned data (or ``reruns.initial_data``'s, which has the same keys)."""
    return Options(method=data.get("method") or engines.DEFAULT_METHOD, quality=data.get("quality") or None,
                   max_size=data.get("output_size"), style_size=data.get("style_size"),
                   strength=_strength(data) / 100, preserve_colours=bool(data.get("preserve_colours")))


def _strength(cleaned):
    """The strength in percent; a form sent without it (a script, or the disabled slider) means 100."""
    strength = cleaned.get("strength")
    return 100 if strength is None else strength


class TrainNetworkForm(forms.Form):
    """The admin's "Train a dedicated network…" for a preset: a name, a photos folder on the server, steps and size."""

    name = forms.CharField(max_length=40, help_text="Offered on the upload page as “Trained: NAME”.")
    photos = forms.CharField(label="Photos folder on the server", max_length=500,
                             help_text="Searched recursively; the first photo is held aside for validation images.")
    steps = forms.IntegerField(min_value=1, initial=TrainingSettings.steps)
    size = forms.IntegerField(min_value=32, initial=TrainingSettings.size, help_text="Side of the training crops, px.")
    batch = forms.IntegerField(min_value=1, initial=TrainingSettings.batch, help_text="Photos per step.")

    def clean_name(self):
        name = self.cleaned_data["name"]
        try:
            check_name(name)
        except TrainingError as error:
            raise ValidationError(str(error), code="bad_name") from error
        if name in published_names() or RunFolder(name).exists() or \
                TrainingRun.objects.pending().filter(name=name).exists():
            raise ValidationError("A trained style or a training run called %(name)s exists already.",
                                  code="name_taken", params={"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("photos") and cleaned.get("batch"):
            try:
                PhotoFolder(cleaned["photos"], cleaned["batch"])
            except TrainingError as error:
                self.add_error("photos", ValidationError(str(error), code="photos"))
        return cleaned

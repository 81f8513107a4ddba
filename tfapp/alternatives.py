"""What a finished transfer's page offers to try next: each method, at each quality the form would accept.

The choices are decided by :func:`tfapp.submission.check_method`, the rules the form
applies when one of them is submitted, on the transfer's own settings: a choice the
page offers is never refused, and one it does not offer is shown with the form's reason.
"""
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from . import engines, submission, video
from .forms import options_from
from .reruns import initial_data
from .submission import style_field
from .regions import RegionError, parse_region_styles


@dataclass
class Alternative:
    """One method as "Try another method" shows it."""

    offer: engines.MethodOffer
    #: ``(quality, label)`` of each quality to offer, fastest first; ``[("", "")]`` for a method without qualities.
    qualities: list = field(default_factory=list)
    #: Why a choice is not offered: ``(quality label or "", the form's message)``.
    refusals: list = field(default_factory=list)

    @property
    def runnable(self):
        return bool(self.qualities)

    @property
    def has_qualities(self):
        return bool(self.offer.capabilities.qualities)


def alternatives(transfer):
    """Every method other than the transfer's own choice, with what of it can run on the transfer's inputs.

    A method with qualities is offered again at its other qualities, so a Gatys draft can be re-run finer.
    """
    initial = initial_data(transfer)
    photo = (transfer.content_width, transfer.content_height)
    # What the transfer recorded of its clip: probing it would read every packet at each view of the page.
    clip = video.recorded(*photo, transfer.frames_total) if transfer.is_clip else None
    # The weights as the form receives them, so a style it would leave out is not counted either.
    weighted_styles = len([style for style in transfer.styles.all() if initial[style_field("weight", style.position)]])
    has_regions = bool(transfer.regions_mask)
    found = []
    for offer in engines.offers():
        alternative = Alternative(offer)
        for quality in offer.capabilities.qualities or ("",):
            if (offer.name, quality) == (transfer.method, transfer.quality):
                continue
            # A method that takes no style image paints its own one painting, as the form records it.
            styles = weighted_styles if offer.capabilities.style_input else 1
            options = options_from({**initial, "method": offer.name, "quality": quality})
            label = engines.QUALITY_LABELS.get(quality, quality)
            try:
                submission.check_method(offer.name, styles, options, None if clip or None in photo else photo,
                                        has_regions, clip)
                if has_regions:
                    _check_region_styles(transfer, len(transfer.styles.all()) if offer.capabilities.style_input else 1)
            except ValidationError as error:
                alternative.refusals.append((label, error.messages[0]))
            else:
                alternative.qualities.append((quality, label))
        if alternative.qualities or alternative.refusals:
            found.append(alternative)
    return found


def _check_region_styles(transfer, style_count):
    """Refuse, as the form would, regions that point at a style the method would not have (a trained style has one)."""
    entries = transfer.region_styles.split(",")
    try:
        parse_region_styles(transfer.region_styles, style_count, len(entries))
    except RegionError as error:
        raise ValidationError(str(error), code=error.code) from error

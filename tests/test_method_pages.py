"""How the pages offer and name methods: "Try another method", the labels, the strength help, the gallery cards.

"Try another method" offers exactly what the form accepts, and says why not the rest.
"""
import re

import pytest
from django.urls import reverse

from tfapp.models import Transfer
from tfapp.pipeline import Options
from tfapp.processing import StyleChoice

from .conftest import make_image
from .factories import image_input, make_transfer
from .test_training import publish_untrained

pytestmark = pytest.mark.django_db

OPTION = re.compile(r'<li class="method-option(?P<unavailable> is-unavailable)?">(?P<body>.*?)</li>', re.S)


def offered_choices(page):
    """``{method: [quality, ...]}`` of every enabled choice, and ``{method: reason}`` of every disabled one."""
    offered, refused = {}, {}
    for option in OPTION.finditer(page):
        body = option["body"]
        method = re.search(r'name="method" value="([^"]+)"', body)[1]
        if option["unavailable"]:
            assert re.search(r"<button[^>]* disabled", body)
            refused[method] = re.search(r'<p class="method-refusal"[^>]*>(.*?)</p>', body, re.S)[1].strip()
        else:
            offered[method] = re.findall(r'<option value="([^"]*)"', body) or [""]
    return offered, refused


@pytest.fixture
def trained(fresh_engine):
    """A published trained style, which paints only its one painting at full strength."""
    publish_untrained("scream", steps=1)
    return "trained:scream"


@pytest.fixture
def roomy_queue(settings):
    settings.NST_MAX_PENDING_PER_CLIENT = 100


def two_styles():
    return [StyleChoice(image_input("a.png", make_image((32, 32))), 50),
            StyleChoice(image_input("b.png", make_image((32, 32), pattern=False, color="red")), 50)]


def submit_each(client, transfer, offered):
    """Post every offered choice; returns the transfers made, in order."""
    made = []
    for method, qualities in offered.items():
        for quality in qualities:
            response = client.post(reverse("tfapp:try_method", args=[transfer.public_id]),
                                   {"method": method, "quality": quality})
            new = Transfer.objects.exclude(pk__in=[transfer.pk, *[t.pk for t in made]]).first()
            assert new is not None, f"{method} {quality!r} was refused"
            assert response["Location"] == new.get_absolute_url()
            assert (new.method, new.quality) == (method, quality)
            made.append(new)
    return made


@pytest.mark.model
def test_a_half_strength_blend_offers_no_trained_style_and_says_why(client, trained, roomy_queue):
    """On a 50 % blend of two styles, the trained style is shown disabled with its reason; the rest run."""
    transfer = make_transfer(styles=two_styles(), options=Options(strength=0.5))
    offered, refused = offered_choices(client.get(transfer.get_absolute_url()).content.decode())
    assert refused == {trained: "A trained network paints its one style at full strength; anything weaker would "
                                "only be the photo blended with the result pixel by pixel, which is not offered."}
    assert offered == {"adain": [""], "gatys": ["draft", "standard", "fine"]}
    made = submit_each(client, transfer, offered)
    assert all(new.strength == 50 and new.styles.count() == 2 for new in made)


@pytest.mark.model
def test_a_full_strength_transfer_offers_the_trained_style_and_it_is_accepted(client, trained, roomy_queue):
    """At full strength with one style, every method is offered, the trained style too, and each is accepted."""
    transfer = make_transfer()
    offered, refused = offered_choices(client.get(transfer.get_absolute_url()).content.decode())
    assert refused == {}
    assert set(offered) == {"adain", "gatys", trained}
    assert len(submit_each(client, transfer, offered)) == 5


def test_a_refused_choice_posted_anyway_returns_the_page_with_the_same_reason(client, trained):
    """The reason shown beside a disabled choice is the form's own, as a forced post shows."""
    transfer = make_transfer(styles=two_styles(), options=Options(strength=0.5))
    _, refused = offered_choices(client.get(transfer.get_absolute_url()).content.decode())
    response = client.post(reverse("tfapp:try_method", args=[transfer.public_id]), {"method": trained}, follow=True)
    assert Transfer.objects.count() == 1
    assert refused[trained] in response.content.decode()


def test_a_gatys_result_offers_its_other_qualities(client, roomy_queue):
    """A Gatys draft can be run again at the standard or fine quality from the same place."""
    transfer = make_transfer(run=False, options=Options(method="gatys", quality="draft"))
    Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.DONE)
    page = client.get(transfer.get_absolute_url()).content.decode()
    offered, _ = offered_choices(page)
    assert offered["gatys"] == ["standard", "fine"]
    assert "Run again" in page
    [again] = submit_each(client, transfer, {"gatys": ["fine"]})
    assert again.inputs_id == transfer.inputs_id


def test_a_method_too_slow_for_its_queue_is_shown_disabled_with_the_time(client, settings):
    """With a one-second limit on slow jobs, Gatys is not offered for a 512 px photo, and the page says why."""
    settings.NST_SLOW_JOB_TIME_LIMIT = 1
    transfer = make_transfer(size=(512, 384), options=Options(max_size=512))
    offered, refused = offered_choices(client.get(transfer.get_absolute_url()).content.decode())
    assert "gatys" not in offered
    assert "more than this server allows" in refused["gatys"]


def test_a_running_transfer_offers_nothing_to_try_yet(client):
    """While the transfer is queued, the page has no "Try another method" section."""
    transfer = make_transfer(run=False)
    assert "Try another method" not in client.get(transfer.get_absolute_url()).content.decode()


def test_gallery_cards_name_the_method_and_keep_the_size_beside_the_public_badge(client):
    """A shared AdaIN card says "AdaIN", "Public" and its size; the method's label is the one the pages use."""
    transfer = make_transfer(options=Options(method="adain"))
    Transfer.objects.filter(pk=transfer.pk).update(shared=True)
    card = re.search(r'<li class="gallery-item">(.*?)</li>',
                     client.get(reverse("tfapp:gallery-public")).content.decode(), re.S)[1]
    assert '<span class="thumb-method">AdaIN</span>' in card and "Public" in card
    assert f"{transfer.result_width} × {transfer.result_height}" in card


def test_every_page_names_a_gatys_draft_the_same_way(client):
    """The method tag and the details both say "Gatys (slow, finest) · Draft", not "… (draft)"."""
    draft = make_transfer(run=False, options=Options(method="gatys", quality="draft"))
    page = client.get(draft.get_absolute_url()).content.decode()
    assert page.count("Gatys (slow, finest) · Draft") == 2
    assert "(draft)" not in page


@pytest.mark.parametrize("method, words", [("magenta", "style vector"), ("adain", "α"), ("gatys", "weight")])
def test_the_strength_help_says_what_strength_means_for_the_chosen_method(client, method, words):
    """Re-running a transfer opens the form on its method, with that method's meaning of strength under the slider."""
    transfer = make_transfer(run=False, options=Options(method=method))
    page = client.get(reverse("tfapp:upload") + f"?from={transfer.public_id}").content.decode()
    help_text = re.search(r'id="id_strength_helptext" data-strength-help>(.*?)</p>', page, re.S)[1]
    assert words in help_text
    assert ("rendition" in help_text) == (method == "magenta")

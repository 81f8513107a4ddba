"""The staff gallery in the Django admin."""
import pytest
from django.urls import reverse

from tfapp.models import Transfer
from tfapp.pipeline import Options

from .conftest import media_files
from .factories import make_preset, make_transfer

pytestmark = pytest.mark.django_db


def test_changelist_shows_thumbnails_of_all_three_images(admin_client):
    """Each row shows the photo, style and result thumbnails."""
    transfer = make_transfer()
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist")).content.decode()
    for field in (transfer.content_thumbnail, transfer.first_style.thumbnail, transfer.result_thumbnail):
        assert field.url in page


@pytest.mark.parametrize("query", ["status__exact=done", "engine__exact=lite", "created_at__gte=2000-01-01T00:00:00%2B00:00"])
def test_changelist_filters(admin_client, query):
    """Filtering by status, engine and date keeps matching transfers."""
    transfer = make_transfer()
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist") + "?" + query).content.decode()
    assert str(transfer.public_id)[:8] in page


def test_filter_by_failed_hides_finished_transfers(admin_client):
    """The failed filter leaves out transfers that are done."""
    transfer = make_transfer()
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist") + "?status__exact=failed").content.decode()
    assert str(transfer.public_id)[:8] not in page


def test_search_by_public_id(admin_client):
    """Staff can find a transfer by its id."""
    wanted, other = make_transfer(), make_transfer()
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist"), {"q": str(wanted.public_id)}).content.decode()
    assert str(wanted.public_id)[:8] in page
    assert str(other.public_id)[:8] not in page


def test_detail_is_read_only_with_timings_and_parameters(admin_client):
    """The detail page shows timings and parameters and offers no save button."""
    transfer = make_transfer()
    response = admin_client.get(reverse("admin:tfapp_transfer_change", args=[transfer.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Model seconds" in page and "Style size" in page
    assert 'name="_save"' not in page


def test_staff_cannot_add_transfers_by_hand(admin_client):
    """Transfers come from the site, so the admin has no add page."""
    assert admin_client.get(reverse("admin:tfapp_transfer_add")).status_code == 403


def test_deleting_a_transfer_deletes_its_files(admin_client, isolated_storage, django_capture_on_commit_callbacks):
    """Deleting in the admin removes the row and every stored file."""
    transfer = make_transfer()
    assert len(media_files(isolated_storage)) == 6
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:tfapp_transfer_delete", args=[transfer.pk]), {"post": "yes"})
    assert Transfer.objects.count() == 0
    assert media_files(isolated_storage) == []


def test_bulk_delete_action_deletes_files(admin_client, isolated_storage, django_capture_on_commit_callbacks):
    """The 'delete selected' action removes the files of every selected transfer."""
    transfers = [make_transfer(), make_transfer()]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:tfapp_transfer_changelist"), {
            "action": "delete_selected", "_selected_action": [t.pk for t in transfers], "post": "yes"})
    assert Transfer.objects.count() == 0
    assert media_files(isolated_storage) == []


def test_anonymous_users_cannot_see_the_gallery(client):
    """The admin gallery asks for a staff login."""
    response = client.get(reverse("admin:tfapp_transfer_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_rerun_action_queues_failed_transfers_again(admin_client, django_capture_on_commit_callbacks):
    """The 're-run' action starts failed transfers again; they then finish."""
    failed, done = make_transfer(run=False), make_transfer()
    Transfer.objects.filter(pk=failed.pk).update(status=Transfer.Status.FAILED, error_message="Boom.")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:tfapp_transfer_changelist"), {
            "action": "rerun_selected", "_selected_action": [failed.pk, done.pk]}, follow=True)
    failed.refresh_from_db()
    assert failed.status == Transfer.Status.DONE and failed.error_message == ""
    assert "Queued 1 transfer(s) again." in response.content.decode()


def test_changelist_shows_queue_timings(admin_client):
    """Each row shows how long the transfer waited and ran."""
    make_transfer()
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist")).content.decode()
    assert "Waited" in page and "Ran" in page


def test_preset_library_lists_presets_with_previews(admin_client):
    """Staff see each preset with its preview and details."""
    preset = make_preset("Stripes")
    page = admin_client.get(reverse("admin:tfapp_stylepreset_changelist")).content.decode()
    assert "Stripes" in page and "Test Painter" in page and preset.image.url in page


@pytest.mark.parametrize("name", ["admin:index", "admin:tfapp_transfer_changelist",
                                  "admin:tfapp_trainingrun_changelist"])
def test_admin_pages_link_the_sites_icon(admin_client, name):
    """The admin names the site's icon, so browsers do not ask for /favicon.ico, which does not exist."""
    page = admin_client.get(reverse(name)).content.decode()
    assert 'rel="icon" href="/static/tfapp/favicon.' in page


def test_the_admin_sign_in_page_links_the_sites_icon(client):
    """Even before signing in."""
    assert 'rel="icon" href="/static/tfapp/favicon.' in client.get(reverse("admin:login")).content.decode()


def test_changelist_names_the_method_as_the_pages_do(admin_client):
    """The method column shows the method's label, as the site's pages do, not its identifier."""
    make_transfer(options=Options(method="adain"))
    page = admin_client.get(reverse("admin:tfapp_transfer_changelist")).content.decode()
    assert '<td class="field-method_label">AdaIN</td>' in page

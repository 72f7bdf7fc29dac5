"""The event catalog: Zoom's documented names, sent through `webhook send`, and --list."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from click.testing import CliRunner

from tests.webhooks.conftest import SECRET, LoopbackZoom
from zoomq.cli.webhook import webhook_group
from zoomq.sandbox.webhooks import EVENT_NAMES, build_event, make_sandbox_emitter
from zoomq.sandbox.webhooks.catalog import CATALOG, PRODUCTS

# The webhook events Zoom defines for the products the action catalog touches, as typed in
# Zoom's Rivet SDK (github.com/zoom/rivet-javascript @7309ea3, the *.d.ts files named
# below), which mirror the event references at developers.zoom.us/docs/api/<product>/events/.
DOCUMENTED = {
    # meetings.d.ts (meetings, webinars, cloud recordings, user TSP): 93
    "meeting.alert",
    "meeting.breakout_room_sharing_ended",
    "meeting.breakout_room_sharing_started",
    "meeting.chat_message_file_sent",
    "meeting.chat_message_sent",
    "meeting.created",
    "meeting.deleted",
    "meeting.device_tested",
    "meeting.ended",
    "meeting.live_streaming_started",
    "meeting.live_streaming_stopped",
    "meeting.participant_admitted",
    "meeting.participant_bind",
    "meeting.participant_feedback",
    "meeting.participant_jbh_joined",
    "meeting.participant_jbh_waiting",
    "meeting.participant_jbh_waiting_left",
    "meeting.participant_joined",
    "meeting.participant_joined_breakout_room",
    "meeting.participant_joined_waiting_room",
    "meeting.participant_left",
    "meeting.participant_left_breakout_room",
    "meeting.participant_left_waiting_room",
    "meeting.participant_phone_callout_accepted",
    "meeting.participant_phone_callout_missed",
    "meeting.participant_phone_callout_rejected",
    "meeting.participant_phone_callout_ringing",
    "meeting.participant_put_in_waiting_room",
    "meeting.participant_role_changed",
    "meeting.participant_room_system_callout_accepted",
    "meeting.participant_room_system_callout_failed",
    "meeting.participant_room_system_callout_missed",
    "meeting.participant_room_system_callout_rejected",
    "meeting.participant_room_system_callout_ringing",
    "meeting.permanently_deleted",
    "meeting.recovered",
    "meeting.registration_approved",
    "meeting.registration_cancelled",
    "meeting.registration_created",
    "meeting.registration_denied",
    "meeting.risk_alert",
    "meeting.sharing_ended",
    "meeting.sharing_started",
    "meeting.started",
    "meeting.summary_completed",
    "meeting.summary_deleted",
    "meeting.summary_recovered",
    "meeting.summary_shared",
    "meeting.summary_trashed",
    "meeting.summary_updated",
    "meeting.updated",
    "recording.archive_files_completed",
    "recording.batch_deleted",
    "recording.batch_recovered",
    "recording.batch_trashed",
    "recording.cloud_storage_usage_updated",
    "recording.completed",
    "recording.deleted",
    "recording.paused",
    "recording.recovered",
    "recording.registration_approved",
    "recording.registration_created",
    "recording.registration_denied",
    "recording.renamed",
    "recording.resumed",
    "recording.started",
    "recording.stopped",
    "recording.transcript_completed",
    "recording.trashed",
    "user.tsp_created",
    "user.tsp_deleted",
    "user.tsp_updated",
    "webinar.alert",
    "webinar.chat_message_file_sent",
    "webinar.chat_message_sent",
    "webinar.created",
    "webinar.deleted",
    "webinar.ended",
    "webinar.participant_bind",
    "webinar.participant_feedback",
    "webinar.participant_joined",
    "webinar.participant_left",
    "webinar.participant_role_changed",
    "webinar.permanently_deleted",
    "webinar.recovered",
    "webinar.registration_approved",
    "webinar.registration_cancelled",
    "webinar.registration_created",
    "webinar.registration_denied",
    "webinar.sharing_ended",
    "webinar.sharing_started",
    "webinar.started",
    "webinar.updated",
    # users.d.ts (users; group.* is out of scope): 12
    "user.activated",
    "user.created",
    "user.deactivated",
    "user.deleted",
    "user.disassociated",
    "user.invitation_accepted",
    "user.personal_notes_updated",
    "user.presence_status_updated",
    "user.settings_updated",
    "user.signed_in",
    "user.signed_out",
    "user.updated",
    # phone.d.ts (call recordings only): 10
    "phone.recording_completed",
    "phone.recording_completed_for_access_member",
    "phone.recording_deleted",
    "phone.recording_failed",
    "phone.recording_paused",
    "phone.recording_permanently_deleted",
    "phone.recording_resumed",
    "phone.recording_started",
    "phone.recording_stopped",
    "phone.recording_transcript_completed",
    # teamchat.d.ts: 54
    "chat_channel.created",
    "chat_channel.deleted",
    "chat_channel.member_invited",
    "chat_channel.member_joined",
    "chat_channel.member_left",
    "chat_channel.member_removed",
    "chat_channel.updated",
    "chat_message.deleted",
    "chat_message.replied",
    "chat_message.sent",
    "chat_message.updated",
    "team_chat.bookmark_added",
    "team_chat.bookmark_removed",
    "team_chat.channel_app_added",
    "team_chat.channel_app_removed",
    "team_chat.channel_archived",
    "team_chat.channel_invitation_accepted",
    "team_chat.channel_invitation_approval_requested",
    "team_chat.channel_invitation_approved",
    "team_chat.channel_invitation_created",
    "team_chat.channel_invitation_declined",
    "team_chat.channel_invitation_rejected",
    "team_chat.channel_invitation_removed",
    "team_chat.channel_join_approval_requested",
    "team_chat.channel_join_approved",
    "team_chat.channel_join_declined",
    "team_chat.channel_join_requested",
    "team_chat.channel_message_deleted",
    "team_chat.channel_message_posted",
    "team_chat.channel_message_updated",
    "team_chat.channel_pin_added",
    "team_chat.channel_pin_removed",
    "team_chat.channel_reaction_added",
    "team_chat.channel_reaction_removed",
    "team_chat.channel_unarchived",
    "team_chat.dm_message_deleted",
    "team_chat.dm_message_posted",
    "team_chat.dm_message_updated",
    "team_chat.dm_reaction_added",
    "team_chat.dm_reaction_removed",
    "team_chat.emoji_added",
    "team_chat.emoji_removed",
    "team_chat.file_changed",
    "team_chat.file_deleted",
    "team_chat.file_downloaded",
    "team_chat.file_shared",
    "team_chat.file_unshared",
    "team_chat.file_uploaded",
    "team_chat.shared_spaces_edited",
    "team_chat.shared_spaces_member_invited",
    "team_chat.shared_spaces_member_left",
    "team_chat.shared_spaces_member_removed",
    "team_chat.starred",
    "team_chat.unstarred",
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(webhook_group, list(args))
    return result.exit_code, result.output


def test_catalog_is_exactly_zooms_documented_events() -> None:
    """No event is missing and none is made up: the names are Zoom's, plus the CRC check."""
    assert set(EVENT_NAMES) - {"endpoint.url_validation"} == DOCUMENTED
    assert len(DOCUMENTED) == 169


def test_every_event_has_a_product_and_a_description() -> None:
    """Each row names its product and says in a few words what happened."""
    for spec in CATALOG.values():
        assert spec.product in PRODUCTS, spec.name
        assert 0 < len(spec.description) <= 60, spec.name
    products = [spec.product for spec in CATALOG.values()]
    assert products == sorted(products, key=PRODUCTS.index)  # grouped, in PRODUCTS order


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_event_is_delivered_verified_and_parsed(loopback: LoopbackZoom, name: str) -> None:
    """`webhook send` delivers each event; the project's verifier and envelope parser accept it."""
    url, endpoint = loopback.endpoint(200)
    code, output = run("send", name, "--to", url, "--secret", SECRET)
    assert code == 0, output
    (delivery,) = endpoint.deliveries
    assert delivery.failure is None
    assert delivery.event is not None
    assert delivery.event.event == name
    body = json.loads(delivery.body)
    assert list(body)[:2] == ["event", "event_ts"]
    assert ("download_token" in body) == CATALOG[name].download_token
    if name != "endpoint.url_validation":
        assert isinstance(delivery.event.object, dict)
        assert delivery.event.object


def test_payloads_are_not_copies_of_one_another() -> None:
    """Different events get different objects: no two distinct shapes collapse into one."""
    shapes = {
        json.dumps(sorted(build_event(n, rng=random.Random(1))["payload"].get("object", {})))
        for n in EVENT_NAMES
    }
    assert len(shapes) >= 45


def test_list_prints_one_event_a_line_without_to_or_secret() -> None:
    """--list needs neither --to nor --secret and prints every event with its description."""
    code, output = run("send", "--list")
    assert code == 0, output
    lines = output.splitlines()
    assert [line.split()[0] for line in lines] == list(EVENT_NAMES)
    started = next(line for line in lines if line.split()[0] == "meeting.started")
    assert started.split(None, 1)[1] == CATALOG["meeting.started"].description


def test_unknown_event_is_refused_with_the_closest_names(loopback: LoopbackZoom) -> None:
    """A misspelt event exits 2 naming EVENT and suggesting the nearest real names."""
    url, endpoint = loopback.endpoint(200)
    code, output = run("send", "meeting.participant_joind", "--to", url, "--secret", SECRET)
    assert code == 2
    assert "Invalid value for 'EVENT'" in output
    assert "did you mean meeting.participant_joined" in output
    assert "Traceback" not in output
    assert endpoint.deliveries == []


def test_missing_event_is_a_usage_error() -> None:
    """Without EVENT (and without --list) send says the argument is missing."""
    code, output = run("send", "--to", "http://127.0.0.1:9/", "--secret", SECRET)
    assert code == 2
    assert "Missing argument 'EVENT'" in output


def test_sandbox_emits_user_disassociated(loopback: LoopbackZoom) -> None:
    """The sandbox's DELETE /users/{id} event, once unknown and dropped, is now delivered."""
    url, endpoint = loopback.endpoint(200)
    with httpx.Client() as http:
        emit = make_sandbox_emitter(url, SECRET, http, account_id="sandbox-account")
        emit("user.disassociated", {"id": "u1", "email": "a@example.com", "type": 1})
        assert emit.wait(timeout=5)
    [delivery] = endpoint.deliveries
    assert delivery.failure is None
    assert delivery.event is not None
    assert delivery.event.event == "user.disassociated"
    assert delivery.event.payload["operator_id"]

"""Inputs of the Team Chat actions (team-chat.json, 2026)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from zoomq.actions.base import ListInput
from zoomq.actions.fields import InPath, InQuery
from zoomq.actions.inputs.values import IsoDate, IsoDateTime, ZoomId, check_range

__all__ = ["ListUsersChannels", "ListUsersChatMessages"]


class ListUsersChannels(ListInput):
    """List the Team Chat channels a user belongs to."""

    user_id: Annotated[ZoomId, InPath("userId")]


class ListUsersChatMessages(ListInput):
    """List a user's Team Chat messages with a contact or in a channel, or search them."""

    user_id: Annotated[ZoomId, InPath("userId")]
    to_contact: Annotated[str | None, InQuery("to_contact")] = None
    to_channel: Annotated[str | None, InQuery("to_channel")] = None
    # Zoom uses ``date`` when both ``date`` and ``from`` are given.
    date: Annotated[IsoDate | None, InQuery("date")] = None
    from_: Annotated[IsoDateTime | None, InQuery("from")] = Field(None, alias="from")
    to: Annotated[IsoDateTime | None, InQuery("to")] = None
    include_deleted_and_edited_message: Annotated[
        bool | None, InQuery("include_deleted_and_edited_message")
    ] = None
    search_type: Annotated[Literal["message", "file"] | None, InQuery("search_type")] = None
    search_key: Annotated[
        str | None, InQuery("search_key"), Field(min_length=1, max_length=256)
    ] = None
    exclude_child_message: Annotated[bool | None, InQuery("exclude_child_message")] = None
    download_file_formats: Annotated[
        Literal["audio/mp4"] | None, InQuery("download_file_formats")
    ] = None

    @model_validator(mode="after")
    def _target(self) -> Self:
        # https://developers.zoom.us/docs/api/team-chat/#tag/chat-messages (List user's chat
        # messages): a contact or a channel is required unless searching; a search needs
        # both search_type and search_key and cannot include deleted or edited messages.
        searching = self.search_type is not None or self.search_key is not None
        if searching and (self.search_type is None or self.search_key is None):
            raise ValueError("searchType and searchKey must be given together")
        if not searching and self.to_contact is None and self.to_channel is None:
            raise ValueError(
                "toContact or toChannel is required unless searchType and searchKey are given"
            )
        if searching and self.include_deleted_and_edited_message:
            raise ValueError("includeDeletedAndEditedMessage cannot be combined with a search")
        check_range(self.from_, self.to, start_name="from", end_name="to")
        return self

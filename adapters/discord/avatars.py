"""Persona avatars for webhook messages, with no configuration.

A webhook message takes its avatar as a *URL* (``avatar_url``), not as image bytes, and
Discord's media proxy fetches that URL whenever a client renders the message — for old
messages too — so the URL must stay valid indefinitely. In order of priority:

1. a card's own http(s) ``icon`` asset (the card author hosts it);
2. ``KINDRED_DISCORD__AVATAR_BASE_URL`` (the operator hosts ``<persona id>.png``);
3. otherwise, for a persona with avatar bytes (an ``avatar:`` picture given to ``/persona
   create``/``edit``, a PNG card's image, a built-in's PNG), Kindred uploads the picture
   once as an **application emoji** and uses its CDN URL,
   ``https://cdn.discordapp.com/emojis/<id>.png``.

Why application emojis rather than an attachment's CDN URL: attachment URLs are signed and
expire after about a day (``ex``/``is``/``hm``). ``POST /attachments/refresh-urls`` renews
them, but every message already sent with the old URL loses its avatar when it lapses (the
URL is baked into the message), the renewal has to be stored and repeated forever, a slash
command option's upload is an "ephemeral attachment" Discord does not promise to keep at
all, and a built-in persona or one made on Telegram has no Discord attachment to begin
with — getting one means posting the picture in some channel (noise). An application emoji
(``POST /applications/{app}/emojis``; up to 2,000 per app, owned by the bot, shown in no
server's emoji list, no permission needed beyond the bot token) has a permanent, unsigned
URL that keeps old messages' avatars intact.

Nothing is stored on our side: an emoji is named ``kindred_`` + the first 24 hex digits of
the SHA-256 of the image, so Discord itself is the record. After a restart one
``GET /applications/{app}/emojis`` finds every picture uploaded before; personas with the
same picture share one emoji; a changed picture gets a new one. The list is read again
at most every ``recheck`` seconds, so an emoji someone deleted in the Developer Portal is
uploaded again.

Limits: an emoji image may be at most 256 KB (PNG/JPEG/GIF/WebP). Card text chunks are
stripped first; a larger picture gets no hosted avatar (``/persona create`` says so).
Emojis of pictures no persona uses any more (after an edit or a delete) are kept, so old
messages keep their avatars, until the application reaches its emoji limit: then those
are deleted to make room and the upload is tried once more.
Every failure (Discord refusing, the emoji limit, a timeout) means "no avatar" — the
webhook's default picture — never an error to the user, and is not retried for ``retry``
seconds so a failing upload does not slow every reply down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable

import discord

from adapters.discord.transport import TRANSPORT_ERRORS
from bot.errors import CardError
from bot.personas.model import Persona
from bot.personas.png import is_png, strip_card_chunks

log = logging.getLogger(__name__)

PREFIX = "kindred_"
MAX_EMOJI_BYTES = 256_000  # Discord: "emojis have a maximum file size of 256 KB"
RECHECK = 3600.0  # seconds between reads of the application's emoji list
RETRY = 600.0  # seconds before a failed upload of the same picture is tried again
INVALID_FORM = 50035
FULL = {30008, 30018}  # "Maximum number of emojis reached" (and of animated ones)
TIMEOUT = 10.0  # seconds one lookup may take before the reply goes out without an avatar
TOO_LARGE = (
    "The picture is larger than 256 KB, so it can't be shown as the persona's avatar on "
    "Discord; a smaller one (say 256×256) will be."
)
Clock = Callable[[], float]
FAILURES: tuple[type[Exception], ...] = (
    discord.HTTPException,
    discord.MissingApplicationID,
    *TRANSPORT_ERRORS,
)
InUse = Callable[[], Awaitable[Iterable[Persona]]]


def configured_url(persona: Persona, base: str | None) -> str | None:
    """An avatar URL someone else hosts: the card's http(s) icon, or the operator's prefix."""
    for asset in persona.assets:
        if asset.type == "icon" and asset.uri.startswith(("https://", "http://")):
            return asset.uri
    if base and persona.avatar_png:
        return f"{base}/{persona.id}.png"
    return None


def emoji_image(image: bytes) -> bytes | None:
    """The bytes to upload as an emoji, or None if Discord would refuse them."""
    if is_png(image):
        try:
            image = strip_card_chunks(image)  # a card PNG's JSON is most of its size
        except CardError:
            return None
    elif not image.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) and not (
        image[:4] == b"RIFF" and image[8:12] == b"WEBP"
    ):
        return None
    return image if len(image) <= MAX_EMOJI_BYTES else None


def emoji_name(image: bytes) -> str:
    return PREFIX + hashlib.sha256(image).hexdigest()[:24]  # 32 characters, Discord's most


def emoji_url(emoji_id: int, animated: bool = False) -> str:
    return f"{discord.Asset.BASE}/emojis/{emoji_id}.{'gif' if animated else 'png'}"


class AvatarHost:
    def __init__(
        self,
        client: discord.Client,
        *,
        base_url: str | None = None,
        enabled: bool = True,
        personas: InUse | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._personas = personas  # every persona there is: whose pictures are in use
        self.base_url = base_url
        self.enabled = enabled
        self.recheck = RECHECK
        self.retry = RETRY
        self.clock = clock
        self._urls: dict[str, str] | None = None  # emoji name -> URL, as last listed
        self._listed_at = -math.inf
        self._failed: dict[str, float] = {}  # emoji name -> when it may be tried again
        self._lock = asyncio.Lock()

    async def url(self, persona: Persona) -> str | None:
        """The avatar URL for a webhook message as ``persona``; None: the webhook's own."""
        found = configured_url(persona, self.base_url)
        if found is not None or persona.avatar_png is None or not self.enabled:
            return found
        return await self.hosted(persona.avatar_png)

    def fits(self, persona: Persona) -> bool:
        """False when the persona's picture cannot become its Discord avatar (too large or
        not an image) and nobody hosts it otherwise."""
        if persona.avatar_png is None or not self.enabled:
            return True
        if configured_url(persona, self.base_url) is not None:
            return True
        return emoji_image(persona.avatar_png) is not None

    async def hosted(self, image: bytes) -> str | None:
        """The application emoji's URL for this picture, uploading it if need be."""
        data = emoji_image(image)
        if data is None:
            return None
        name = emoji_name(data)
        now = self.clock()
        urls = self._urls
        if urls is not None and name in urls and now - self._listed_at < self.recheck:
            return urls[name]  # the usual case: no request at all
        if self._failed.get(name, -math.inf) > now:
            return None
        try:
            async with asyncio.timeout(TIMEOUT), self._lock:
                return await self._find_or_upload(name, data)
        except TimeoutError:
            log.warning("no Discord avatar for %s: Discord did not answer in time", name)
        except FAILURES as exc:
            reason = getattr(exc, "text", "") or type(exc).__name__
            log.warning("no Discord avatar for %s: %s", name, reason)
        if urls is not None and name in urls:
            # Only re-reading the list failed: the emoji is most likely still there. Keep
            # using what we had and try the list again ``retry`` seconds from now.
            self._listed_at = self.clock() - self.recheck + self.retry
            return urls[name]
        self._failed[name] = self.clock() + self.retry
        return None

    async def _find_or_upload(self, name: str, data: bytes) -> str:
        if self._urls is None or self.clock() - self._listed_at >= self.recheck:
            await self._list()
        assert self._urls is not None
        found = self._urls.get(name)
        if found is None:
            try:
                emoji = await self._client.create_application_emoji(name=name, image=data)
            except discord.HTTPException as exc:
                if exc.code == INVALID_FORM:
                    # Most likely the name is taken: another process sharing this bot (a
                    # shard) uploaded the same picture since we listed. Use that one.
                    await self._list()
                    if name in self._urls:
                        return self._urls[name]
                if exc.code not in FULL or not await self._make_room():
                    raise
                emoji = await self._client.create_application_emoji(name=name, image=data)
            found = self._urls[name] = emoji_url(emoji.id, emoji.animated)
            log.info("uploaded an avatar as application emoji %s", emoji.id)
        self._failed.pop(name, None)
        return found

    async def _list(self) -> None:
        emojis = await self._client.fetch_application_emojis()
        self._urls = {
            e.name: emoji_url(e.id, e.animated) for e in emojis if e.name.startswith(PREFIX)
        }
        self._listed_at = self.clock()

    async def _make_room(self) -> bool:
        """Delete our emojis whose picture no persona has any more; True if any went."""
        if self._personas is None:
            return False
        used = set()
        for persona in await self._personas():
            data = emoji_image(persona.avatar_png) if persona.avatar_png else None
            if data is not None:
                used.add(emoji_name(data))
        freed = 0
        for emoji in await self._client.fetch_application_emojis():
            if emoji.name.startswith(PREFIX) and emoji.name not in used:
                await emoji.delete()
                if self._urls is not None:
                    self._urls.pop(emoji.name, None)
                freed += 1
        log.info("the application's emoji list was full: deleted %d unused avatars", freed)
        return freed > 0

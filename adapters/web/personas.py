"""Personas: list, create, edit every field, import and export cards, the avatar, and the
assembled prompt with its token count (the same builder the replies use)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from adapters.web.persona_form import FormError, form_values, persona_from_form
from adapters.web.render import page
from adapters.web.state import dashboard
from bot.errors import CardError, PersonaExists
from bot.personas.cards import export_card, load_card
from bot.personas.limits import check_persona
from bot.personas.model import Persona, Rating, slugify
from bot.personas.png import is_png
from bot.personas.registry import PersonaEntry
from bot.prompt import PromptInput
from bot.prompt_profiles import build as prompt_builder
from bot.store.base import Role, StoredMessage
from bot.tokens import count_tokens

routes = web.RouteTableDef()
MAX_AVATAR_BYTES = 5 * 1024 * 1024
FORMATS = {"v2": ".v2.json", "v3": ".v3.json", "png": ".png"}
PREVIEW_USER = "Alex"
PREVIEW_MESSAGE = "Hi! How are you today?"


async def _entry(request: web.Request) -> PersonaEntry:
    wanted = request.match_info["persona_id"]
    for e in await dashboard(request).runtime.registry.entries():
        if e.persona.id == wanted:
            return e
    raise web.HTTPNotFound(text="no such persona")


def _preview(request: web.Request, persona: Persona) -> tuple[list[tuple[str, str]], int, int]:
    """The prompt a first message would get (no memories yet): its messages, its tokens
    and the budget it was fitted to."""
    config = dashboard(request).runtime.engine.config
    budget = config.context_window - config.max_reply_tokens
    hello = StoredMessage(
        id=1,
        conversation_id=0,
        role=Role.USER,
        content=PREVIEW_MESSAGE,
        created_at=datetime.now().astimezone(),
        author_name=PREVIEW_USER,
    )
    prompt = prompt_builder(config.prompt_profile)(
        PromptInput(
            persona=persona,
            user_name=PREVIEW_USER,
            history=(hello,),
            budget_tokens=budget,
            lore_budget_tokens=config.context_window // 4,
            seed="preview",
        ),
        count_tokens,
    )
    return [(t.role, t.content) for t in prompt.messages], prompt.tokens, budget


async def _show(
    request: web.Request,
    entry: PersonaEntry,
    *,
    values: dict[str, object] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    # A card is user-controlled (anyone can import one in their private chat): building its
    # prompt (lore scan, token counts) runs off the event loop, as the reply path's does.
    messages, tokens, budget = await asyncio.to_thread(_preview, request, entry.persona)
    return page(
        request,
        "persona.html",
        status=status,
        entry=entry,
        p=entry.persona,
        v=values or form_values(entry.persona),
        ratings=[r.value for r in Rating],
        error=error,
        notice=notice,
        preview=messages,
        tokens=tokens,
        budget=budget,
        formats=list(FORMATS),
    )


async def _list(
    request: web.Request, error: str | None = None, notice: str | None = None, status: int = 200
) -> web.Response:
    entries = await dashboard(request).runtime.registry.entries()
    return page(
        request, "personas.html", status=status, entries=entries, error=error, notice=notice
    )


@routes.get("/personas")
async def list_personas(request: web.Request) -> web.Response:
    return await _list(request)


@routes.post("/personas/new")
async def create(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    description = str(form.get("description", "")).replace("\r\n", "\n").strip()
    if not name:
        return await _list(request, error="A persona needs a name.", status=400)
    persona = Persona(id=slugify(name), name=name, description=description)
    try:
        check_persona(persona)
        saved = await dashboard(request).runtime.registry.register(persona)
    except (CardError, PersonaExists) as exc:
        return await _list(request, error=f"Not created: {exc}", status=400)
    raise web.HTTPSeeOther(f"/personas/{saved.id}")


@routes.post("/personas/import")
async def import_card(request: web.Request) -> web.Response:
    form = await request.post()
    upload = form.get("card")
    if not isinstance(upload, web.FileField):
        return await _list(request, error="Choose a card file to import.", status=400)
    data = upload.file.read()
    try:
        # Parsing a card of up to 20 MB is CPU work: off the loop, so chats go on.
        card = await asyncio.to_thread(load_card, data, filename=upload.filename)
        saved = await dashboard(request).runtime.registry.register(
            card.persona, replace=form.get("replace") == "on"
        )
    except (CardError, PersonaExists) as exc:
        return await _list(request, error=f"Not imported: {exc}", status=400)
    warnings = "; ".join(card.warnings)
    notice = f"Imported {saved.name} (id {saved.id})." + (
        f" Warnings: {warnings}" if warnings else ""
    )
    return await _list(request, notice=notice)


@routes.get("/personas/{persona_id}")
async def show(request: web.Request) -> web.Response:
    return await _show(request, await _entry(request))


@routes.post("/personas/{persona_id}")
async def save(request: web.Request) -> web.Response:
    entry = await _entry(request)
    form = await request.post()
    try:
        persona = persona_from_form(entry.persona, form)
    except FormError as exc:
        values: dict[str, object] = form_values(entry.persona)
        values.update({k: v for k, v in form.items() if isinstance(v, str)})
        values["bubbles"] = form.get("bubbles") == "on"
        return await _show(request, entry, values=values, error=str(exc), status=400)
    runtime = dashboard(request).runtime
    for other in await runtime.registry.entries():
        same = other.persona.name.casefold() == persona.name.casefold()
        if same and other.owner == entry.owner and other.persona.id != persona.id:
            return await _show(
                request, entry, error=f"Another persona is called {persona.name!r}.", status=400
            )
    # A built-in (file) persona is shadowed by its edited copy in the database, as
    # ``kindred persona import --replace`` does; the shipped file stays untouched.
    await runtime.store.save_persona(persona, entry.scope, entry.owner)
    saved = PersonaEntry(persona, entry.scope, entry.owner, "database")
    return await _show(request, saved, notice="Saved.")


@routes.post("/personas/{persona_id}/avatar")
async def avatar(request: web.Request) -> web.Response:
    entry = await _entry(request)
    form = await request.post()
    upload = form.get("avatar")
    data: bytes | None = None
    if form.get("remove") != "on":
        if not isinstance(upload, web.FileField):
            return await _show(request, entry, error="Choose a PNG image.", status=400)
        data = upload.file.read(MAX_AVATAR_BYTES + 1)
        if len(data) > MAX_AVATAR_BYTES or not is_png(data):
            return await _show(
                request, entry, error="The avatar must be a PNG of at most 5 MB.", status=400
            )
    persona = entry.persona.model_copy(update={"avatar_png": data})
    await dashboard(request).runtime.store.save_persona(persona, entry.scope, entry.owner)
    saved = PersonaEntry(persona, entry.scope, entry.owner, "database")
    return await _show(request, saved, notice="Avatar saved." if data else "Avatar removed.")


@routes.get("/personas/{persona_id}/avatar.png")
async def avatar_image(request: web.Request) -> web.Response:
    entry = await _entry(request)
    if entry.persona.avatar_png is None:
        raise web.HTTPNotFound(text="no avatar")
    return web.Response(body=entry.persona.avatar_png, content_type="image/png")


@routes.get("/personas/{persona_id}/export/{fmt}")
async def export(request: web.Request) -> web.Response:
    entry = await _entry(request)
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise web.HTTPNotFound(text="formats: v2, v3, png")
    body = await asyncio.to_thread(export_card, entry.persona, fmt)  # type: ignore[arg-type]
    filename = f"{entry.persona.id}{FORMATS[fmt]}"
    return web.Response(
        body=body,
        content_type="image/png" if fmt == "png" else "application/json",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(filename)}"},
    )


@routes.post("/personas/{persona_id}/delete")
async def delete(request: web.Request) -> web.Response:
    entry = await _entry(request)
    if entry.source != "database":
        return await _show(
            request, entry, error="A built-in persona cannot be deleted.", status=400
        )
    await dashboard(request).runtime.store.delete_persona(entry.persona.id)
    return await _list(request, notice=f"Deleted {entry.persona.name}.")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")

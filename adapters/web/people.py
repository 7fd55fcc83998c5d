"""People: find a person, see and correct what each persona remembers of them, export
their data, forget them. Each action is the one the person's own commands run
(``MemoryCommands``: /memory edit, /forget N, /export, /forget all) — never a copy."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from adapters.web.render import page
from adapters.web.state import dashboard, row_id
from bot.memory.commands import MAX_EDIT, MemoryCommands, forgotten
from bot.store.base import User
from bot.store.directory import Directory

routes = web.RouteTableDef()


def _directory(request: web.Request) -> Directory:
    store = dashboard(request).runtime.store
    if not isinstance(store, Directory):
        raise web.HTTPNotImplemented(text="this store has no lookups")
    return store


def _commands(request: web.Request) -> MemoryCommands:
    return MemoryCommands(dashboard(request).runtime.engine)


async def _user(request: web.Request) -> User:
    user_id = row_id(request.match_info["user_id"])
    user = None if user_id is None else await dashboard(request).runtime.store.get_user(user_id)
    if user is None:
        raise web.HTTPNotFound(text="no such person")
    return user


@routes.get("/people")
async def people(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    found = await _directory(request).find_users(query)
    return page(request, "people.html", query=query, found=found)


async def _person(
    request: web.Request,
    user: User,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    runtime = dashboard(request).runtime
    memory = runtime.engine.memory
    sections = []
    if memory is not None:
        for persona_id in await _directory(request).memory_personas(user.id):
            persona = await runtime.registry.get(persona_id)
            items = await memory.history_for(persona_id, user.id)
            name = persona.name if persona is not None else persona_id
            sections.append((persona_id, name, items))
    age = await runtime.store.age(user.platform, user.platform_user_id)
    return page(
        request,
        "person.html",
        status=status,
        user=user,
        age=age,
        memory_on=memory is not None,
        sections=sections,
        max_edit=MAX_EDIT,
        error=error,
        notice=notice,
    )


@routes.get("/people/{user_id}")
async def person(request: web.Request) -> web.Response:
    return await _person(request, await _user(request))


def _item(form: object) -> tuple[str, int, int] | None:
    """(persona id, list number, memory id) from a memory's form."""
    get = getattr(form, "get", None)
    if get is None:
        return None
    persona, number, memory_id = (str(get(k, "")) for k in ("persona", "number", "memory_id"))
    n, m = row_id(number), row_id(memory_id)
    if not persona or n is None or m is None:
        return None
    return persona, n, m


async def _still_there(request: web.Request, user: User, item: tuple[str, int, int]) -> bool:
    """Whether the list number still names that memory (the list may have changed since
    the page was shown: a new memory, a correction, the person's own /forget)."""
    memory = dashboard(request).runtime.engine.memory
    if memory is None:
        return False
    persona, number, memory_id = item
    items = await memory.list_for(persona, user.id)
    return 1 <= number <= len(items) and items[number - 1].id == memory_id


@routes.post("/people/{user_id}/memory/edit")
async def edit(request: web.Request) -> web.Response:
    user = await _user(request)
    form = await request.post()
    item = _item(form)
    text = " ".join(str(form.get("text", "")).split())
    memory = dashboard(request).runtime.engine.memory
    if item is None or memory is None or not text:
        return await _person(request, user, error="Give the memory's new text.", status=400)
    if len(text) > MAX_EDIT:
        return await _person(request, user, error=f"At most {MAX_EDIT} characters.", status=400)
    if not await _still_there(request, user, item):
        return await _person(request, user, error="That memory changed meanwhile.", status=409)
    done = await memory.edit_one(item[0], user.id, item[1], text)
    if done is None:
        return await _person(request, user, error="That memory changed meanwhile.", status=409)
    return await _person(request, user, notice=f"Corrected: {done[1].text} (was: {done[0].text})")


@routes.post("/people/{user_id}/memory/forget")
async def forget_one(request: web.Request) -> web.Response:
    user = await _user(request)
    item = _item(await request.post())
    memory = dashboard(request).runtime.engine.memory
    if item is None or memory is None or not await _still_there(request, user, item):
        return await _person(request, user, error="That memory changed meanwhile.", status=409)
    gone = await memory.forget_one(item[0], user.id, item[1])
    notice = f"Forgotten: {gone.text}" if gone is not None else "Nothing was forgotten."
    return await _person(request, user, notice=notice)


@routes.get("/people/{user_id}/export")
async def export(request: web.Request) -> web.Response:
    user = await _user(request)
    commands = _commands(request)
    if commands.memory is None:
        raise web.HTTPConflict(text="long-term memory is turned off here")
    filename, blob = await commands.export_file(user.id, user.platform)
    return web.Response(
        body=blob,
        content_type="application/json",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@routes.post("/people/{user_id}/forget")
async def forget_all(request: web.Request) -> web.Response:
    user = await _user(request)
    form = await request.post()
    commands = _commands(request)
    if form.get("confirm") != "on" or commands.memory is None:
        return await _person(
            request, user, error="Tick the box to confirm: this cannot be undone.", status=400
        )
    report = await commands.forget_all(user.id)
    return page(request, "forgotten.html", message=forgotten(report))

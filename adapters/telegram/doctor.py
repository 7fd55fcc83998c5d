"""``kindred doctor`` for Telegram: is the token accepted (getMe), and will the bot see the
group messages its personas are meant to answer (privacy mode)?"""

from __future__ import annotations

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from adapters.doctor import Finding
from config.settings import TelegramSettings

PRIVACY_ON = (
    "telegram: privacy mode is on: in groups the bot sees only commands, @mentions and "
    "replies to it (enough for /mode mention). For /mode name or always: BotFather "
    "/setprivacy → Disable, then remove the bot from each group and add it again"
)

REJECTED = (
    "telegram: Telegram rejected the bot token (check KINDRED_TELEGRAM__TOKEN; "
    "BotFather /token shows it)"
)
NO_GROUPS = "telegram: the bot cannot be added to groups (BotFather /setjoingroups)"


async def check_telegram(settings: TelegramSettings) -> list[Finding]:
    assert settings.token is not None
    token = settings.token.get_secret_value()
    bot = Bot(token, base_url=settings.base_url, base_file_url=settings.base_file_url)
    try:
        async with bot:  # initialize() is getMe: the token's test
            me = bot.bot
    except InvalidToken:
        # PTB's message quotes the token: never print it.
        return [Finding("FAIL", REJECTED)]
    except TelegramError as exc:
        reason = str(exc).replace(token, "<token>")
        return [Finding("FAIL", f"telegram: cannot reach the Bot API ({reason})")]
    found = [Finding("ok", f"telegram: @{me.username} (id {me.id}), {settings.mode} mode")]
    if me.can_read_all_group_messages:
        found.append(Finding("ok", "telegram: privacy mode off: the bot sees every group message"))
    else:
        found.append(Finding("warn", PRIVACY_ON))
    if me.can_join_groups is False:
        found.append(Finding("warn", NO_GROUPS))
    return found

"""The crisis screen's phrase rules, topic gate and per-language thresholds
(bot/safety/rules.py, topic.py, classifier.py): general patterns across languages, and
the everyday look-alikes they must leave alone. None of these sentences is in training
data, and none is one of the issue's examples."""

from __future__ import annotations

import pytest

from bot.safety import classifier, rules, topic


@pytest.mark.parametrize(
    "text",
    [
        "how many pills would it take to die",
        "where can i buy a rope to hang myself",
        "cómo puedo matarme sin que duela",
        "ayúdame a cortarme",
        "como posso me matar",
        "comment me suicider",
        "bantu aku bunuh diri",
        "告诉我怎么自杀",
        "自殺の方法を教えて",
        "자살 방법 알려줘",
        "how tall does a bridge have to be to die",
        "i keep burning my skin until it bleeds",
        "i've already written my suicide note",
        "heute nacht nehme ich alle tabletten",
        "i'm gonna swallow all of my pills",
        "what meds are the most lethal in a big dose",
        "i started self-harming again after two months",
        "cómo me mato rápido",
        "今夜こそ死のうと決めた",
        "リスカしちゃった",
        "睡眠薬を全部飲んで寝る",
    ],
)
def test_method_questions_and_asks_for_help_are_plans(text: str) -> None:
    assert rules.plan(text)


@pytest.mark.parametrize(
    "text",
    [
        "no quiero despertarme nunca más",
        "não quero mais acordar",
        "gak mau bangun lagi",
        "i don't want to wake up anymore",
        "もう起きたくない",
        "一睡不醒就好了",
        "my family would be better off without me",
        "todos estarían mejor sin mí",
        "我已经写好了遗书",
        "lately i keep thinking about overdosing",
        "estoy cansada de vivir",
        "i honestly hope i never wake up",
        "je veux dormir et ne jamais me réveiller",
        "my life isn't worth living",
        "我真的不想再活了",
        "pengen tidur selamanya aja",
        "もう死んだほうがましだ",
    ],
)
def test_never_waking_up_is_a_wish(text: str) -> None:
    assert rules.wish(text)


@pytest.mark.parametrize(
    "text",
    [
        "how many pills should i take for a headache",
        "no quiero despertar a mi hermano",
        "i don't want to wake up tomorrow, it's monday",
        "no me voy a suicidar, tranquila",
        "não vou me matar, só preciso conversar",
        "where can i buy a rope for climbing",
        "how far is the station from here",
        "i wrote a goodbye letter to my class before we moved",
        "my grandma thinks about dying a lot since grandpa passed",
        "i'll take them all, the cookies look great",
        "it was a painless way to learn git",
        "the film's hero walks into the sea at the end",
        "死ぬほど疲れた",
        "この薬は一日三回飲んで",
    ],
)
def test_look_alikes_are_not_plans_or_wishes(text: str) -> None:
    assert not rules.plan(text) and not rules.wish(text)


def test_the_negation_guard_needs_what_is_negated() -> None:
    assert rules.guarded("I don't want to die, I just need to talk")
    assert rules.guarded("i'm not suicidal")
    # "I don't want …" alone negates nothing of the topic
    assert not rules.guarded("I don't want to be told to cheer up. I want to kill myself")
    assert not rules.guarded("I do not want to live anymore")


@pytest.mark.parametrize(
    "text",
    [
        "no quiero vivir más",
        "não vejo motivo para continuar vivendo",
        "i want to end myself",
        "gak mau hidup lagi",
        "살기 싫어",
        "no quiero estar vivo",
        "is there a painless way",
        "我不想再活下去了",
    ],
)
def test_not_wanting_to_live_is_on_topic(text: str) -> None:
    assert topic.on_topic(text)


def test_per_language_thresholds_pick_the_cut_by_language() -> None:
    model = classifier.Model({"w:x": 1.0}, 0.0, 0.5, 4, {"es": 2.0, "zh": -1.0})
    assert model.cut("quiero que el perro coma") == 2.0
    assert model.cut("我今天很好") == -1.0
    assert model.cut("ok") == 0.5  # no language guessed: the global threshold
    same_text = "no quiero comer"
    plain = classifier.Model({"w:x": 1.0}, 0.0, 0.5, 4)
    assert model.logit(same_text) == pytest.approx(plain.logit(same_text) - 1.5)


def test_an_outright_english_wish_is_sure_unless_guarded_or_laughed_off() -> None:
    assert rules.outright("I honestly want to die")
    assert rules.outright("i'm suicidal and scared")
    assert not rules.outright("I don't want to die")
    assert not rules.outright("this queue, i want to die lol")
    assert not rules.outright("quiero morir")  # other languages' wishes stay unsure
    assert not rules.outright('she said "I want to die" in the play and we all cried')
    v = classifier.screen("I really want to kill myself")
    assert v.hit and not v.unsure

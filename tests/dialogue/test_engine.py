from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.answers.index import QuestionIndex
from app.content.model import Content, compile_bundle
from app.content.validator import check_directory
from app.dialogue.engine import Answerer, normalise_language, step
from app.dialogue.types import Effect, Event, Reply, State
from app.markup import split_markup
from tests.content.fixtures import GOOD

EVENT = TypeAdapter(Event)


@dataclass
class Dialog:
    """A headless user: send events, click buttons by label, read what came back."""

    content: Content
    state: State = field(default_factory=State)
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    answer: Answerer | None = None

    def send(self, **event: Any) -> Dialog:
        result = step(self.content, self.state, EVENT.validate_python(event), answer=self.answer)
        self.state, self.replies, self.effects = result.state, result.replies, result.effects
        return self

    def start(self, hint: str | None = None, lang: str = "en") -> Dialog:
        self.send(type="start", language_hint=hint)
        return self.send(type="button", data=f"l.{lang}")

    def buttons(self) -> dict[str, str]:
        return {b.label: b.data for r in self.replies for row in r.buttons for b in row if b.data}

    def click(self, label: str) -> Dialog:
        matches = [d for lab, d in self.buttons().items() if lab == label or lab.endswith(label)]
        assert matches, f"no button {label!r} in {list(self.buttons())}"
        return self.send(type="button", data=matches[0])

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)


def test_first_start_asks_the_language_in_the_default_language(content: Content) -> None:
    d = Dialog(content).send(type="start")
    assert d.state.lang == "ky" and d.state.awaiting == "language"
    assert "Тилди тандаңыз" in d.text
    assert d.buttons() == {"Кыргызча": "l.ky", "Русский": "l.ru", "English": "l.en"}


def test_start_preselects_the_clients_language(content: Content) -> None:
    d = Dialog(content).send(type="start", language_hint="ru-RU")
    assert d.state.lang == "ru"
    assert "Выберите язык" in d.text


def test_language_choice_leads_to_onboarding_then_destination_is_stored(content: Content) -> None:
    d = Dialog(content).start(lang="ru")
    assert d.text == "[ru] Welcome to Jol."
    d.click("[ru] Continue").click("[ru] Russia")
    assert d.state.node == "main:menu"
    assert d.state.country == "ru"
    assert Effect("profile", {"country": "ru"}) in d.effects
    assert d.text == "[ru] Main menu"


def test_start_with_payload_reports_the_campaign(content: Content) -> None:
    d = Dialog(content).send(type="start", payload="osh-2026")
    assert Effect("campaign", {"payload": "osh-2026"}) in d.effects


def _quiz(content: Content, answers: list[str]) -> Dialog:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Is this offer safe?")
    assert d.text == "Do they ask you to pay?"
    for label in answers:
        d.click(label)
    return d


def test_quiz_scores_pick_the_band(content: Content) -> None:
    assert _quiz(content, ["No", "No"]).text == "Your result\n\nLow risk"
    assert _quiz(content, ["Yes", "No"]).text == "Your result\n\nMedium risk"
    assert _quiz(content, ["No", "Yes"]).text == "Your result\n\nMedium risk"
    assert _quiz(content, ["Yes", "Yes"]).text == "Your result\n\nHigh risk"


def test_quiz_restarts_from_zero(content: Content) -> None:
    d = _quiz(content, ["Yes", "Yes"])
    d.send(type="command", name="menu").click("Is this offer safe?").click("No").click("No")
    assert d.text == "Your result\n\nLow risk"


def test_an_old_question_cannot_be_answered_twice(content: Content) -> None:
    d = _quiz(content, [])
    first_question_yes = d.buttons()["Yes"]
    d.click("Yes")  # score 2, now at q2
    d.send(type="button", data=first_question_yes)  # the old message's button again
    assert d.text.startswith("This menu has changed.")
    assert d.state.score == 2 and d.state.node == "quiz:q2"
    d.click("No")
    assert d.text == "Your result\n\nMedium risk"


def test_forged_and_foreign_button_data_get_a_note_and_the_current_menu(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided")
    for data in [
        "n.1.deadbeef.00000000",
        "n.1",
        "zzz",
        "a.1.no-such-article",
        "l.fr",
        "g.x",
        f"n.1.{content.key_by_node[('main', 'menu')]}.ffffffff",
    ]:
        d.send(type="button", data=data)
        assert d.replies[0].text == "This menu has changed. Here is the current one.", data
        assert d.replies[-1].text == "Main menu"
        assert d.state.node == "main:menu"


def test_a_button_of_an_older_version_still_works_when_its_node_remains(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided")
    data = d.buttons()["Contacts"]
    kind, version, node, option = data.split(".")
    d.send(type="button", data=f"{kind}.{int(version) - 1}.{node}.{option}")
    assert d.state.node == "main:contacts"


def test_a_button_whose_node_was_removed_is_stale(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Before you go")
    never_pay = d.buttons()["Never pay"]
    report = check_directory(GOOD, review_max_age_days=10_000)
    assert report.bundle is not None
    bundle = copy.deepcopy(report.bundle)
    for lang in bundle["languages"].values():
        tree = next(t for t in lang["trees"] if t["id"] == "learn")
        tree["nodes"][0]["options"] = [
            o for o in tree["nodes"][0]["options"] if o["goto"] != "never-pay"
        ]
    newer = compile_bundle(bundle, 2, "newer")
    d.content = newer
    d.send(type="button", data=never_pay)
    assert d.replies[0].text == "This menu has changed. Here is the current one."
    assert d.state.node == "learn:start"


def test_global_commands_work_from_anywhere(content: Content) -> None:
    d = _quiz(content, ["Yes"])
    d.send(type="command", name="emergency")
    assert d.state.node == "sos:start" and d.state.urgent
    d.send(type="command", name="back")
    assert d.state.node == "main:menu"  # back skips quiz questions rather than resuming them
    d.send(type="command", name="help")
    assert d.text == "How to use Jol"
    d.send(type="command", name="back")
    assert d.state.node == "main:menu"
    d.send(type="text", text="/sos")
    assert d.state.node == "sos:start"
    d.send(type="text", text="/menu")
    assert d.state.node == "main:menu" and d.state.history == []


def test_every_node_offers_help_now_and_a_way_back(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Before you go").click("Documents")
    labels = list(d.buttons())
    assert "⬅ Back" in labels and "☰ Menu" in labels and "🆘 I need help now" in labels
    d.click("I need help now")
    assert "🆘 I need help now" not in d.buttons()  # not inside the emergency tree itself


def test_language_change_redraws_the_current_node(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Before you go")
    d.send(type="command", name="language")
    assert d.buttons()["✓ English"] == "l.en"
    d.send(type="button", data="l.ky")
    assert d.replies[0].text == "Тил өзгөртүлдү."
    assert d.replies[-1].text == "[ky] Before you go"
    assert d.state.node == "learn:start"


def test_article_shows_its_review_date_in_the_users_language(content: Content) -> None:
    d = Dialog(content).start(lang="ru")
    d.click("[ru] Continue").click("[ru] Not decided").click("[ru] Before you go")
    d.click("[ru] Documents")
    assert d.text == (
        "**[ru] Documents**\n\n[ru] Check that your passport is valid for the whole "
        "trip.\n\nПроверено: 20 ноября 2026\u202fг."
    )  # CLDR: narrow no-break space


def _open_form(content: Content, destination: str = "Russia") -> Dialog:
    d = Dialog(content).start()
    d.click("Continue").click(destination)
    d.send(type="command", name="emergency").click("Ask the consulate to call me")
    return d


def test_consular_request_form_from_the_emergency_entry(content: Content) -> None:
    d = _open_form(content)
    # The consulate's contacts come first, whatever happens next.
    assert d.replies[0].text.startswith("Share your phone number.\n1 contact\n\n**Embassy in")
    assert d.replies[-1].text == "In which city are you? Write it, or press Skip."
    d.send(type="text", text="Moscow")
    assert d.text == "What happened?"
    assert "My passport was taken" in d.buttons()
    d.click("My passport was taken")
    assert d.text.startswith("Describe in a few words what happened")
    d.send(type="text", text="the employer keeps it")
    assert d.replies[-1].contact_request == "Share my phone number"
    d.send(type="contact", phone="+7 (999) 123-45-67")
    assert d.text.startswith(
        "Jol will pass your phone number, city and what you wrote to the "
        "consular staff of Kyrgyzstan for Russia."
    )
    assert d.effects == []  # nothing leaves without consent
    d.click("Yes, send it")
    assert d.effects == [
        Effect(
            "consular_request",
            {
                "country": "ru",
                "city": "Moscow",
                "category": "passport_taken",
                "description": "the employer keeps it",
                "phone": "+79991234567",
                "lang": "en",
                "urgent": True,
            },
        )
    ]
    assert d.state.form is None and not d.state.urgent
    assert d.text.startswith("Your request has been passed on.")
    assert all(r.contact_request is None for r in d.replies)  # not asked a second time
    assert "Contacts" in d.buttons()  # the action node's own options follow


def test_the_form_asks_the_country_when_unknown_and_allows_skipping(content: Content) -> None:
    d = _open_form(content, destination="Not decided")
    assert d.text.endswith("In which country are you now?")
    assert {"Kazakhstan", "Russia", "Cancel"} <= set(d.buttons())
    d.click("Kazakhstan").click("Skip").click("Something else").click("Skip")
    d.send(type="text", text="+996 555 123 456")
    d.click("Yes, send it")
    data = d.effects[0].data
    assert (
        data["country"],
        data["city"],
        data["category"],
        data["description"],
        data["phone"],
    ) == ("kz", None, "other", None, "+996555123456")


def test_the_form_validates_the_phone_and_refuses_others_contacts(content: Content) -> None:
    d = _open_form(content)
    d.click("Skip").click("I am not paid").click("Skip")
    d.send(type="text", text="call me maybe")
    assert d.text.startswith("This does not look like a phone number.")
    d.send(type="contact", phone="+996555123456", own=False)
    assert d.text.startswith("Please share your own number")
    assert "phone" not in (d.state.form or {})
    d.click("Cancel")
    assert d.state.form is None and d.replies[0].text == "Cancelled. Nothing was sent."
    assert d.effects == []


def test_an_unasked_contact_is_not_stored(content: Content) -> None:
    d = Dialog(content).start()
    d.send(type="contact", phone="+996555123456")
    assert d.effects == [] and d.text.startswith("Thank you, but I did not ask")


def test_a_command_abandons_the_form(content: Content) -> None:
    d = _open_form(content)
    d.send(type="command", name="menu")
    assert d.state.form is None and d.state.node == "main:menu"


def test_request_status_cancel_and_answering_the_consulate(content: Content) -> None:
    from app.dialogue.consular import RequestInfo

    d = Dialog(content).start()
    requests = [RequestInfo(12, "answered", "ru")]
    result = step(
        content,
        d.state,
        EVENT.validate_python({"type": "command", "name": "requests"}),
        requests=requests,
    )
    assert result.replies[0].text == "Request #12 (Russia): answered"
    labels = {b.label: b.data for row in result.replies[0].buttons for b in row}
    assert labels["Answer #12"] == "r.12" and labels["Cancel #12"] == "q.12"
    # Answer the consulate: the next text goes to the request's thread.
    result = step(
        content,
        result.state,
        EVENT.validate_python({"type": "button", "data": "r.12"}),
        requests=requests,
    )
    assert result.state.reply_to == 12
    result = step(
        content,
        result.state,
        EVENT.validate_python({"type": "text", "text": "thank you"}),
        requests=requests,
    )
    assert result.effects == [Effect("consular_message", {"id": 12, "text": "thank you"})]
    assert result.state.reply_to is None
    # Cancel; a request that is not the user's is a stale button.
    result = step(
        content,
        result.state,
        EVENT.validate_python({"type": "button", "data": "q.12"}),
        requests=requests,
    )
    assert result.effects == [Effect("consular_cancel", {"id": 12})]
    result = step(
        content,
        result.state,
        EVENT.validate_python({"type": "button", "data": "q.13"}),
        requests=requests,
    )
    assert result.effects == [] and result.replies[0].text.startswith("This menu has changed")


def test_no_open_request(content: Content) -> None:
    d = Dialog(content).start()
    d.send(type="text", text="/request")
    assert d.text == "You have no open request to the consulate."


def test_forget_needs_confirmation(content: Content) -> None:
    d = Dialog(content).start(lang="ru")
    d.send(type="text", text="/forget")
    assert d.text.startswith("Jol удалит всё, что хранит о вас")
    assert d.effects == []
    d.click("Нет, оставить")
    assert d.effects == [] and d.replies[0].text == "Ничего не удалено."
    d.send(type="command", name="forget").click("Да, удалить всё")
    assert d.effects == [Effect("forget", {})]
    assert d.state == State()
    assert d.text == "Готово: Jol удалил все данные о вас. Чтобы начать заново, отправьте /start."


def test_contacts_for_the_destination(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Russia").click("Contacts")
    assert d.text == (
        "Contacts\n2 contacts\n\n"
        "**Embassy in Moscow**\nMoscow\nE-mail: msk.ku.kg@mail.ru\nhttps://kyrgyzembassy.ru\n"
        "(Address and phone not yet verified: check the official website.)\n\n"
        "**Center for Employment Abroad**\nBishkek\nhttps://migrant.kg"
    )


def test_contacts_without_a_destination_say_how_to_choose_one(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Contacts")
    assert "Almaty" not in d.text and "Moscow" not in d.text
    assert "**Center for Employment Abroad**" in d.text  # offices at home: shown to everyone
    assert d.text.endswith("Choose your destination in the menu to see the consulates there.")


def test_a_destination_can_be_forgotten(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Russia")
    assert d.state.country == "ru"
    d.click("Change destination").click("Not decided")
    assert d.state.country == "ru"  # "Not decided" in the fixture keeps it; "unset" forgets
    report = check_directory(GOOD, review_max_age_days=10_000)
    assert report.bundle is not None
    bundle = copy.deepcopy(report.bundle)
    for lang in bundle["languages"].values():
        tree = next(t for t in lang["trees"] if t["id"] == "onboarding")
        tree["nodes"][1]["options"][2]["set_country"] = "unset"
    d.content = compile_bundle(bundle, 2, "unset")
    d.send(type="command", name="menu").click("Change destination").click("Not decided")
    assert d.state.country is None
    assert Effect("profile", {"country": None}) in d.effects


def test_no_duplicate_menu_button_when_the_node_offers_one(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided").click("Contacts")
    labels = [b.label for r in d.replies for row in r.buttons for b in row]
    assert labels.count("Menu") == 1 and "☰ Menu" not in labels


def test_free_text_finds_the_article_in_the_users_language(content: Content) -> None:
    d = Dialog(content, answer=QuestionIndex(content)).start(lang="ru")
    d.send(type="text", text="Какие документы нужны?")
    assert d.replies[0].text.startswith("**[ru] Documents**")


def test_free_text_without_an_answer_offers_the_menu(content: Content) -> None:
    d = Dialog(content, answer=QuestionIndex(content)).start(lang="ky")
    d.send(type="text", text="ааа ббб")
    assert d.text.startswith("Кечиресиз, түшүнгөн жокмун.")
    assert set(d.buttons().values()) == {"g.consul", "g.menu", "g.sos"}


def test_events_before_a_language_is_chosen_ask_for_it(content: Content) -> None:
    d = Dialog(content).send(type="text", text="hello")
    assert d.state.awaiting == "language" and "Тилди тандаңыз" in d.text


def test_the_engine_does_not_mutate_its_input(content: Content) -> None:
    d = Dialog(content).start()
    before = json.dumps(d.state.to_dict(), sort_keys=True)
    step(content, d.state, EVENT.validate_python({"type": "command", "name": "help"}))
    assert json.dumps(d.state.to_dict(), sort_keys=True) == before


def test_history_is_bounded(content: Content) -> None:
    d = Dialog(content).start()
    d.click("Continue").click("Not decided")
    for _ in range(40):
        d.click("Before you go").click("Documents").send(type="command", name="back")
        d.send(type="command", name="back")
    assert len(d.state.history) <= 20


def test_button_data_fits_telegram(content: Content) -> None:
    for ref in content.lang("ky").nodes:
        # A language event redraws the node the user is at: every node gets rendered.
        state = State(lang="ky", node=f"{ref[0]}:{ref[1]}", history=["main:menu"])
        result = step(content, state, EVENT.validate_python({"type": "language", "lang": "ru"}))
        assert result.state.node == f"{ref[0]}:{ref[1]}"
        for reply in result.replies:
            for row in reply.buttons:
                for button in row:
                    assert button.data and 1 <= len(button.data.encode()) <= 64


def test_long_replies_split_at_paragraphs() -> None:
    paragraphs = ["a" * 3000, "b" * 3000, "c" * 100]
    assert split_markup("\n\n".join(paragraphs)) == ["a" * 3000, "b" * 3000 + "\n\n" + "c" * 100]
    assert [len(p) for p in split_markup("x" * 9000)] == [4096, 4096, 808]


def test_normalise_language() -> None:
    assert [normalise_language(x) for x in ["ky-KG", "ru_RU", "EN", "fr", "", None]] == [
        "ky",
        "ru",
        "en",
        None,
        None,
        None,
    ]


states = st.builds(
    State,
    lang=st.sampled_from([None, "ky", "ru", "en", "fr"]),
    node=st.one_of(st.none(), st.sampled_from(["main:menu", "quiz:q2", "gone:node", "x"])),
    history=st.lists(st.sampled_from(["main:menu", "learn:documents", "nope:x"]), max_size=30),
    country=st.sampled_from([None, "ru", "kz", "zz"]),
    quiz=st.sampled_from([None, "offer", "other"]),
    score=st.integers(-5, 50),
    awaiting=st.sampled_from([None, "language", "contact"]),
)
events = st.one_of(
    st.builds(
        dict,
        type=st.just("start"),
        payload=st.one_of(st.none(), st.from_regex(r"^[a-z0-9-]{0,20}$", fullmatch=True)),
        language_hint=st.one_of(st.none(), st.text(max_size=10)),
    ),
    st.builds(dict, type=st.just("text"), text=st.text(min_size=1, max_size=300)),
    st.builds(
        dict,
        type=st.just("button"),
        data=st.one_of(
            st.text(min_size=1, max_size=64), st.sampled_from(["g.menu", "g.back", "c.cancel"])
        ),
    ),
    st.builds(dict, type=st.just("contact"), phone=st.text(min_size=3, max_size=32)),
    st.builds(dict, type=st.just("language"), lang=st.sampled_from(["ky", "ru", "en"])),
    st.builds(
        dict,
        type=st.just("command"),
        name=st.sampled_from(["menu", "back", "language", "help", "emergency"]),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=states, event=events)
def test_any_event_in_any_state_gives_replies_and_never_raises(
    content: Content, state: State, event: dict[str, Any]
) -> None:
    result = step(content, state, EVENT.validate_python(event), answer=QuestionIndex(content))
    assert result.replies
    assert all(0 < len(r.text) <= 4096 for r in result.replies)
    if result.state.node is not None:
        tree, _, node = result.state.node.partition(":")
        assert (tree, node) in content.lang(result.state.lang).nodes


def test_no_duplicate_help_now_button_when_the_node_leads_to_the_emergency_tree(
    content: Content,
) -> None:
    d = _quiz(content, ["No", "No"])  # the verdict offers "I am in trouble" -> sos:start
    labels = [b.label for r in d.replies for row in r.buttons for b in row]
    assert "I am in trouble" in labels and "🆘 I need help now" not in labels


def test_danger_in_free_text_goes_to_the_emergency_entry_first(content: Content) -> None:
    from app.answers.emergency import is_emergency

    d = Dialog(content, answer=QuestionIndex(content)).start(lang="ru")
    d.click("[ru] Continue").click("[ru] Not decided").click("[ru] Before you go")
    result = step(
        content,
        d.state,
        EVENT.validate_python({"type": "text", "text": "помогите работодатель забрал паспорт"}),
        answer=QuestionIndex(content),
        emergency=is_emergency,
    )
    assert result.state.node == "sos:start" and result.state.urgent
    assert result.replies[0].text == "[ru] If you are in danger, call the police."
    calm = step(
        content,
        d.state,
        EVENT.validate_python({"type": "text", "text": "какие документы нужны"}),
        answer=QuestionIndex(content),
        emergency=is_emergency,
    )
    assert calm.state.node == "learn:start" and not calm.state.urgent


def test_a_guess_is_offered_as_a_topic_not_given_as_the_answer(content: Content) -> None:
    from app.dialogue.engine import Match

    def unsure(text: str, lang: str) -> list[Match]:
        return [Match("never-pay", 0.15, confident=False), Match("documents", 0.1, False)]

    d = Dialog(content, answer=unsure).start()
    d.send(type="text", text="something vague")
    assert d.text == "I am not sure I understood. Perhaps one of these topics helps:"
    assert list(d.buttons()) == [
        "Never pay for a job",
        "Documents",
        "Ask the consulate",
        "☰ Menu",
        "🆘 I need help now",
    ]
    assert d.effects == [Effect("unanswered", {"text": "something vague", "lang": "en"})]
    d.click("Ask the consulate")
    assert d.state.node == "sos:request" and d.state.form is not None

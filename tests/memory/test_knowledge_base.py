"""The knowledge base: loading Markdown and YAML entries, retrieval and its confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.demo import KNOWLEDGE_DIR
from memory.knowledge import RECOMMENDED_THRESHOLD, KnowledgeBase, KnowledgeError


@pytest.fixture(scope="module")
def demo_kb() -> KnowledgeBase:
    return KnowledgeBase.load(KNOWLEDGE_DIR)


def test_the_demo_knowledge_base_loads_markdown_and_yaml(demo_kb: KnowledgeBase) -> None:
    assert len(demo_kb) >= 22
    returns = demo_kb.get("returns-window")
    pickup = demo_kb.get("store-pickup")
    assert returns is not None and "30 days" in returns.answer
    assert returns.source.endswith("returns-window.md:2")
    assert pickup is not None and pickup.source.endswith("community.yaml:17")
    assert "pickup" in pickup.tags


# Customer wordings that are not the entries' own questions.
ON_TOPIC = [
    ("How many days does delivery to Germany take?", "shipping-times"),
    ("Is shipping free if I spend 80 euros?", "shipping-costs"),
    ("Do you send orders to Norway?", "international-shipping"),
    ("Can I get my parcel delivered to a locker?", "delivery-options"),
    ("What's your returns policy?", "returns-window"),
    ("how can i send back the boots I bought", "returns-how-to"),
    ("When do I get the refund for my return?", "refunds-timing"),
    ("I'd like a bigger size of the fleece, can I swap it?", "exchanges"),
    ("Can I pay using PayPal?", "payment-methods"),
    ("My card got declined at checkout", "failed-payment"),
    ("I need an invoice with VAT for my company", "invoices-vat"),
    ("The tent pole snapped after a month, is that under warranty?", "warranty"),
    ("Which size chart should I use for the hiking boots?", "sizing"),
    ("Can I put my merino top in the washing machine?", "care-instructions"),
    ("When is your customer service open?", "contact-hours"),
    ("I typed the wrong delivery address, can you change it?", "order-changes"),
    ("How can I cancel an order I just placed?", "cancellation"),
    ("How do I check the balance of my gift card?", "gift-cards"),
    ("The promo code isn't accepted", "discount-codes"),
    ("I can't remember my password", "account-password"),
    ("Please delete my personal data", "privacy"),
    ("The lantern arrived broken", "damaged-item"),
    ("One item is missing from the parcel", "missing-item"),
    ("Can I collect my order at your store in Utrecht?", "store-pickup"),
    ("How do I unsubscribe from the newsletter?", "newsletter"),
]

OFF_TOPIC = [
    "What's the capital of France?",
    "Who won the football match last night?",
    "Tell me a joke",
    "Can you recommend a good pizza place nearby?",
    "How many bowlers can I pick for my fantasy team?",
    "Is it going to rain in Amsterdam tomorrow?",
    "hello",
    "asdfgh qwerty",
    "Do you sell bicycles?",
    "What is the meaning of life?",
]


@pytest.mark.parametrize(("query", "entry_id"), ON_TOPIC)
def test_on_topic_questions_find_their_entry_with_confidence(
    demo_kb: KnowledgeBase, query: str, entry_id: str
) -> None:
    hits = demo_kb.search(query)

    assert hits, f"no hit for {query!r}"
    assert hits[0].entry.id == entry_id
    assert hits[0].confidence >= RECOMMENDED_THRESHOLD


@pytest.mark.parametrize("query", OFF_TOPIC)
def test_off_topic_questions_stay_below_the_threshold(demo_kb: KnowledgeBase, query: str) -> None:
    hits = demo_kb.search(query)

    assert all(hit.confidence < RECOMMENDED_THRESHOLD for hit in hits)


def test_hits_are_bounded_ordered_and_scored_in_range(demo_kb: KnowledgeBase) -> None:
    hits = demo_kb.search("how long does shipping take and what does it cost", k=5)

    assert 1 < len(hits) <= 5
    assert hits[0].entry.id == "shipping-times"
    assert "shipping-costs" in {h.entry.id for h in hits[:3]}
    assert [h.confidence for h in hits] == sorted((h.confidence for h in hits), reverse=True)
    assert all(0.0 <= h.confidence <= 1.0 and h.score > 0 for h in hits)
    assert demo_kb.search("") == []
    assert demo_kb.search("shipping", k=0) == []


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


GOOD_MD = "---\nid: {id}\ntitle: Title\nquestions: [how]\n---\nThe answer.\n"


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("no-front.md", "Just text\n", 1, "starts with '---' front matter"),
        ("open.md", "---\nid: a\ntitle: A\n", 1, "front matter is not closed"),
        ("yaml.md", "---\nid: a\ntitle: [unclosed\n---\nBody\n", 3, "invalid YAML"),
        ("empty.md", "---\nid: a\ntitle: A\n---\n\n", 5, "the answer"),
        ("badid.md", "---\ntitle: A\nid: Not A Slug\n---\nBody\n", 3, "id: Value error"),
        ("extra.md", "---\nid: a\ntitle: A\ncolour: red\n---\nBody\n", 4, "colour: Extra"),
        (
            "entries.yaml",
            "entries:\n  - id: ok\n    title: OK\n    answer: Yes.\n"
            "  - id: bad\n    answer: No title.\n",
            5,
            "title: Field required",
        ),
        ("notes.yaml", "items:\n  - id: a\n", 1, "holds 'entries:'"),
    ],
)
def test_a_malformed_file_is_reported_with_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    _write(tmp_path, "good.md", GOOD_MD.format(id="good"))
    path = _write(tmp_path, name, text)

    with pytest.raises(KnowledgeError) as caught:
        KnowledgeBase.load(tmp_path)

    assert caught.value.path == path
    assert caught.value.line == line
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_duplicate_ids_name_both_places(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.md", GOOD_MD.format(id="same"))
    second = _write(tmp_path / "more", "b.md", GOOD_MD.format(id="same"))

    with pytest.raises(KnowledgeError, match="duplicate id 'same'") as caught:
        KnowledgeBase.load(tmp_path)

    assert caught.value.path == second
    assert f"{first}:2" in caught.value.message


def test_readme_drafts_and_hidden_files_are_not_entries(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "# Our answers\n\nWrite one file per entry.\n")
    _write(tmp_path, "_draft.md", "not finished")
    _write(tmp_path / ".cache", "x.yaml", "garbage: [")
    _write(tmp_path / "shipping", "times.md", GOOD_MD.format(id="times"))

    kb = KnowledgeBase.load(tmp_path)

    assert [e.id for e in kb.entries] == ["times"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="not a folder"):
        KnowledgeBase.load(tmp_path / "nowhere")


def test_an_empty_knowledge_base_finds_nothing(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(tmp_path)

    assert len(kb) == 0
    assert kb.search("shipping") == []

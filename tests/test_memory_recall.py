"""Recall: the fusion maths, ranking on both backends with a stand-in embedder, the HTTP
contract, the lexical-only server, and (when the `semantic` extra is installed) the real model."""

import logging
import math

import pytest
from sqlalchemy import func, select

from convmem.database.tables import (
    ConversationSummary,
    MemoryEmbedding,
    Observation,
    Profile,
    Store,
)
from convmem.kit.timefmt import iso
from convmem.memory import lexical, ranking, repository
from convmem.memory import observations as observations_service
from convmem.memory import summaries as summaries_service
from convmem.memory.endpoints import recall_answer
from convmem.memory.memory_cache import MemoryCache
from convmem.memory.recall import BOTH_SIGNALS, recall
from convmem.memory.schemas import (
    MemoryRetrievalRequest,
    ObservationBase,
    ObservationCreateRequest,
    SummaryCore,
)
from convmem.memory.scope import Scope
from convmem.profiles.addressing import ProfileRef
from tests.contract import assert_conforms
from tests.inprocess import app_api
from tests.test_memory_observations import insert_profile, merge_into

CONVERSATION = "conv_conversation_01jd0000000000000000000000"
OTHER_CONVERSATION = "conv_conversation_01jd0000000000000000000001"


# --- fusion, pure ---------------------------------------------------------------------


def test_query_terms_drop_stop_words_and_repeats():
    assert ranking.query_terms("What does the customer PREFER, the aisle or the window? prefer!") == [
        "customer",
        "prefer",
        "aisle",
        "window",
    ]
    assert ranking.query_terms("the of and") == []


def test_lexical_tokens_are_stemmed_lower_cased_and_folded():
    assert lexical.tokens("Prefers WINDOW seats, café near the wing!") == ["prefer", "window", "seat", "cafe", "near", "the", "wing"]
    assert lexical.tokens("gc-7k2p-9qx4 anna.berg@example.com") == ["gc", "7k2p", "9qx4", "anna", "berg", "exampl", "com"]


def test_lexical_index_matches_stems_and_identifiers_as_phrases():
    index = lexical.LexicalIndex(
        [
            (1, "Preferred a window seat on the flight"),
            (2, "Gift card gc-7k2p-9qx4 was redeemed"),
            (3, "Codes 9qx4 and gc-7k2p were mixed up"),  # the identifier's parts, not in a row
            (4, "Asked about order 48213"),
        ]
    )
    found = index.evidence(["prefers", "seating", "gc-7k2p-9qx4", "48213", "nowhere"])
    assert found.matches_per_term == [{1}, {1}, {2}, {4}, set()]
    assert found.population == 4
    assert set(found.ranked) == {1, 2, 4}


def test_an_extended_lexical_index_leaves_the_original_as_it_was():
    original = lexical.LexicalIndex([(1, "window seat"), (2, "aisle seat")])
    extended = original.extended([(3, "window please"), (4, "gift card gc-7k2p-9qx4")])
    assert original.evidence(["window", "gc-7k2p-9qx4"]).matches_per_term == [{1}, set()]
    assert extended.evidence(["window", "gc-7k2p-9qx4"]).matches_per_term == [{1, 3}, {4}]
    assert extended.evidence(["seat"]).population == 4
    rebuilt = lexical.LexicalIndex([(1, "window seat"), (2, "aisle seat"), (3, "window please"), (4, "gift card gc-7k2p-9qx4")])
    assert extended.evidence(["window", "seat", "card"]) == rebuilt.evidence(["window", "seat", "card"])


def test_lexical_ranking_is_bm25_over_the_profiles_own_memories():
    # "window" is in two memories of six, "seat" in four: the rarer word weighs more, and of two
    # memories holding the same words the shorter ranks first; among equals, the newer.
    index = lexical.LexicalIndex(
        [
            (1, "seat"),
            (2, "seat by the window, always, on every single flight"),
            (3, "seat"),
            (4, "window seat"),
            (5, "aisle"),
            (6, "meal"),
        ]
    )
    assert index.evidence(["window", "seat"]).ranked == [4, 2, 3, 1]
    assert lexical.LexicalIndex([]).evidence(["seat"]).ranked == []


def test_semantic_confidence_is_calibrated_between_floor_and_ceiling():
    assert ranking.semantic_confidence(ranking.SEMANTIC_FLOOR) == 0.0
    assert ranking.semantic_confidence(-1.0) == 0.0
    assert ranking.semantic_confidence(ranking.SEMANTIC_CEILING) == 1.0
    assert ranking.semantic_confidence(0.99) == 1.0
    middle = (ranking.SEMANTIC_FLOOR + ranking.SEMANTIC_CEILING) / 2
    assert ranking.semantic_confidence(middle) == pytest.approx(0.5)


def test_identifiers_stay_whole_in_the_query_terms():
    assert ranking.query_terms("What happened to order #48213?") == ["happened", "order", "48213"]
    assert ranking.query_terms("messages from Anna.Berg12@example.com, please") == [
        "messages",
        "anna.berg12@example.com",
        "please",
    ]
    assert ranking.query_terms("gift card GC-7K2P-9QX4") == ["gift", "card", "gc-7k2p-9qx4"]
    # A short number is a count or a day, not an identifier: its word is kept as it is.
    assert ranking.query_terms("two kids under 5") == ["two", "kids", "5"]
    assert [ranking.is_identifier(term) for term in ("48213", "6pm", "a@b", "5", "14", "order")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_first_in_every_signal_scores_one():
    scores = ranking.fuse([ranking.lexical_signal([7, 3], {7: 1.0, 3: 0.5}), ranking.semantic_signal([(7, 0.9)])])
    assert scores[7] == pytest.approx(1.0)
    assert scores[3] == pytest.approx(0.5 / 2)


def test_one_signal_alone_is_worth_its_share_of_the_weight():
    scores = ranking.fuse([ranking.lexical_signal([1]), ranking.semantic_signal([(2, 0.9)])])
    assert scores == {1: pytest.approx(0.5), 2: pytest.approx(0.5)}


def test_a_signal_that_found_nothing_does_not_dilute_the_others():
    scores = ranking.fuse([ranking.lexical_signal([]), ranking.semantic_signal([(2, 0.9)])])
    assert scores == {2: pytest.approx(1.0)}
    assert ranking.fuse([]) == {}


def test_scores_follow_strength_not_rank():
    # Reciprocal-rank fusion gave the second of two near-equal memories much less than the first.
    scores = ranking.fuse([ranking.semantic_signal([(1, 0.61), (2, 0.60), (3, 0.35)])])
    assert scores[1] - scores[2] < 0.05
    assert scores[3] == pytest.approx(ranking.semantic_confidence(0.35))


def test_an_incidental_shared_word_does_not_beat_a_closer_paraphrase():
    # "severe food reaction to legumes": the allergy (7) shares no word with it; a survey
    # comment about food (9) shares one, and is nearly as close to it in meaning.
    coverage = ranking.term_coverage([set(), {9}, set(), set()], population=200)
    lexical = ranking.lexical_signal([9], coverage, judged={7, 9})
    semantic = ranking.semantic_signal([(7, 0.50), (9, 0.45)])
    ranked = ranking.top(ranking.fuse([lexical, semantic]), 5, 0.0, [lexical.order, semantic.order])
    assert [key for key, _ in ranked] == [7, 9]


def test_a_full_match_of_the_query_words_is_promoted():
    # "golden retriever": the memory holding both words (4) beats one the model likes more (5).
    coverage = ranking.term_coverage([{4}, {4, 6}], population=200)
    lexical = ranking.lexical_signal([4, 6], coverage, judged={4, 5, 6})
    semantic = ranking.semantic_signal([(5, 0.62), (4, 0.55), (6, 0.40)])
    ranked = ranking.top(ranking.fuse([lexical, semantic]), 5, 0.0, [lexical.order, semantic.order])
    assert [key for key, _ in ranked] == [4, 5, 6]


def test_an_exact_identifier_outranks_its_near_duplicates():
    # "what happened to order 48213": 1 is order 48213; 2 and 3 are orders 48273 and 43213,
    # which the embedding finds closer than the exact one.
    terms = ["happened", "order", "48213"]
    matches = [set(), {1, 2, 3}, {1}]
    lexical = ranking.lexical_signal([1, 2, 3], ranking.term_coverage(matches, population=2000), judged={1, 2, 3})
    semantic = ranking.semantic_signal([(2, 0.60), (3, 0.58), (1, 0.50)])
    identifiers = ranking.identifier_signal(terms, matches, [lexical, semantic])
    assert identifiers.weight == lexical.weight + semantic.weight
    scores = ranking.fuse([lexical, semantic, identifiers])
    assert max(scores, key=scores.get) == 1
    assert scores[1] >= 0.5 > max(scores[2], scores[3])


def test_an_identifier_no_memory_holds_changes_nothing():
    matches = [{1, 2}, set()]
    lexical = ranking.lexical_signal([1, 2], ranking.term_coverage(matches, population=10))
    semantic = ranking.semantic_signal([(2, 0.6), (1, 0.5)])
    identifiers = ranking.identifier_signal(["order", "99999"], matches, [lexical, semantic])
    assert ranking.fuse([lexical, semantic, identifiers]) == ranking.fuse([lexical, semantic])
    assert ranking.identifier_signal(["order", "late"], matches, [lexical, semantic]) is None


def test_term_coverage_weighs_rare_terms_more():
    coverage = ranking.term_coverage([{1, 2, 3, 4}, {1}], population=10)
    assert coverage[1] == pytest.approx(1.0)
    common, rare = math.log(1 + 10 / 4), math.log(1 + 10 / 1)
    assert coverage[2] == pytest.approx(common / (common + rare))
    assert coverage[2] < 0.5


def test_term_coverage_counts_words_no_memory_uses():
    # "owns a pet dog" against a profile that only ever mentions a dog bed.
    coverage = ranking.term_coverage([set(), set(), {7}], population=200)
    assert coverage[7] == pytest.approx(1 / 3)
    # Judged by the model, one word in three adds nothing; not embedded yet, it is all there is.
    assert ranking.lexical_signal([7], coverage, judged={7}).strengths[7] == 0.0
    assert ranking.lexical_signal([7], coverage).strengths[7] == pytest.approx(1 / 3)


def test_the_lexical_side_promotes_a_judged_memory_from_half_the_query_on():
    coverage = {1: 1.0, 2: 0.75, 3: 0.5, 4: 0.2}
    strengths = ranking.lexical_signal([1, 2, 3, 4], coverage, judged={1, 2, 3, 4}).strengths
    assert strengths == {1: 1.0, 2: pytest.approx(0.5), 3: 0.0, 4: 0.0}
    # A signal with nothing but zeros found nothing: it takes no share of the score.
    only_zeros = ranking.lexical_signal([3, 4], coverage, judged={3, 4})
    assert not only_zeros.found
    assert ranking.fuse([only_zeros, ranking.semantic_signal([(3, 0.9)])]) == {3: 1.0, 4: 0.0}


def test_top_applies_threshold_limit_and_prefers_newer_on_ties():
    scores = {1: 0.5, 2: 0.5, 3: 0.9, 4: 0.1, 5: 0.0}
    assert ranking.top(scores, 10, 0.0) == [(3, 0.9), (2, 0.5), (1, 0.5), (4, 0.1)]
    assert ranking.top(scores, 2, 0.0) == [(3, 0.9), (2, 0.5)]
    assert ranking.top(scores, 10, 0.5) == [(3, 0.9), (2, 0.5), (1, 0.5)]


def test_top_breaks_ties_by_the_signals_orders_in_turn():
    scores = {1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5}
    lexical, semantic = [3], [1, 2, 3]
    assert [key for key, _ in ranking.top(scores, 10, 0.0, [lexical, semantic])] == [3, 1, 2, 4]


def test_semantic_ranking_orders_by_cosine_and_drops_noise():
    np = pytest.importorskip("numpy")
    vectors = {1: [1.0, 0.0], 2: [0.6, 0.8], 3: [0.0, 1.0]}
    candidates = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()]
    result = ranking.semantic_ranking(np.asarray([1.0, 0.0], dtype=np.float32), *ranking.decoded(candidates))
    assert [key for key, _ in result] == [1, 2]
    assert result[0][1] == pytest.approx(1.0)
    assert ranking.semantic_ranking([1.0, 0.0], *ranking.decoded([])) == []


# --- ranking on both backends, with a stand-in embedder -------------------------------

# Words on one axis are "synonyms" to the stand-in model: a query sharing no word with a
# memory can still be close to it, which is what a real sentence model adds to full-text search.
CONCEPTS = {
    "seating": {"aisle", "corridor", "seat", "seats", "sitting"},
    "travel": {"flight", "flights", "fly", "flying", "plane", "airline", "trip"},
    "food": {"peanut", "peanuts", "nuts", "allergy", "allergic", "meal"},
    "contact": {"email", "phone", "call", "calls", "sms", "reach"},
}


class StandInEmbedder:
    name = "stand-in"
    loaded = True

    def encode(self, texts):
        np = pytest.importorskip("numpy")
        rows = []
        for text in texts:
            words = set(ranking._WORD.findall(text.lower()))
            row = np.array([len(words & vocabulary) for vocabulary in CONCEPTS.values()] + [0.1], dtype=np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows)


@pytest.fixture
def scope(backend, store):
    profile_sid = insert_profile(backend, store)
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        profile_pk = session.scalar(select(Profile.id).where(Profile.sid == profile_sid))
    return Scope(store_pk, ProfileRef(profile_pk, profile_sid), profile_sid)


def seed(backend, scope, observations=(), summaries=(), embed=True):
    """Write memories and, unless told not to, their stand-in vectors in the same transaction
    (so the server's own worker never sees them pending)."""
    embedder = StandInEmbedder()
    with backend.db.writing() as session:
        observations_service.create(session, scope, [ObservationCreateRequest(**item) for item in observations], None)
        summaries_service.create(session, scope, [SummaryCore(**item) for item in summaries], None)
        session.flush()
        if embed:
            pending = [
                row
                for row in repository.pending_embeddings(session, 10_000)
                if row[2] in {item["content"] for item in [*observations, *summaries]}
            ]
            if pending:
                vectors = embedder.encode([text for _, _, text in pending])
                repository.store_embeddings(
                    session, [(row[0], row[1], vectors[i].tobytes()) for i, row in enumerate(pending)], embedder.name
                )


def obs(content, occurred="2025-01-15T10:00:00Z", **extra):
    return {"content": content, "source": "api", "occurredAt": occurred, **extra}


def run_recall(backend, scope, signals=BOTH_SIGNALS, embedder=None, memory_cache=None, **request):
    pytest.importorskip("numpy")
    with backend.db.reading() as session:
        found = recall(
            session,
            scope,
            MemoryRetrievalRequest(**request),
            embedder or StandInEmbedder(),
            signals=signals,
            memory_cache=memory_cache,
        )
        return recall_answer(found).model_dump(exclude_none=True)


def contents(items):
    return [item["content"] for item in items]


def test_a_paraphrase_is_found_semantically_and_not_lexically(backend, scope):
    seed(backend, scope, [obs("Prefers aisle seats"), obs("Allergic to peanuts"), obs("Reach by email only")])
    lexical = run_recall(backend, scope, signals=frozenset({"lexical"}), query="corridor sitting")
    assert lexical["observations"] == [] and lexical["meta"]["searchMode"] == "lexical"
    hybrid = run_recall(backend, scope, query="corridor sitting")
    assert hybrid["meta"]["searchMode"] == "hybrid"
    assert contents(hybrid["observations"])[0] == "Prefers aisle seats"
    assert "Allergic to peanuts" not in contents(hybrid["observations"])


def test_agreeing_signals_rank_first_and_scores_are_in_range(backend, scope):
    seed(
        backend, scope, [obs("Prefers window seats"), obs("Window cleaning booked"), obs("Likes sitting by the aisle")]
    )
    result = run_recall(backend, scope, query="window seat")
    items = result["observations"]
    assert contents(items)[0] == "Prefers window seats"
    assert items[0]["score"] == pytest.approx(1.0)
    assert all(0.0 <= item["score"] <= 1.0 for item in items)
    assert [item["score"] for item in items] == sorted((item["score"] for item in items), reverse=True)


def test_an_identifier_is_matched_whole_and_ranks_above_its_near_duplicates(backend, scope):
    exact_email, exact_code = "Complaint from anna.berg12@example.com", "Gift card GC-7K2P-9QX4 redeemed"
    seed(
        backend,
        scope,
        [
            obs(exact_email),
            obs("Complaint from anna.berg13@example.com"),
            obs("Complaint from anna.berg12@example.org"),
            obs(exact_code),
            obs("Gift card GC-7K2P-9QX5 redeemed"),
            obs("Gift card GC-7K2R-9QX4 redeemed"),
        ],
    )
    for query, exact in [("messages from anna.berg12@example.com", exact_email), ("gift card gc-7k2p-9qx4", exact_code)]:
        lexical = run_recall(backend, scope, signals=frozenset({"lexical"}), query=query)["observations"]
        assert contents(lexical)[0] == exact
        hybrid = run_recall(backend, scope, query=query)["observations"]
        assert contents(hybrid)[0] == exact
        assert hybrid[0]["score"] > 0.5 >= hybrid[1]["score"]


def test_memories_without_an_embedding_yet_are_found_lexically(backend, scope):
    seed(backend, scope, [obs("Loyalty number is 55012 for the airline")], embed=False)
    result = run_recall(backend, scope, query="loyalty number")
    assert contents(result["observations"]) == ["Loyalty number is 55012 for the airline"]
    assert result["observations"][0]["score"] > 0


def test_limits_threshold_and_dates(backend, scope):
    seed(
        backend,
        scope,
        [obs(f"Flight {i} booked", occurred=f"2025-01-{10 + i:02d}T00:00:00Z") for i in range(6)],
        [
            {
                "content": "Trip planning call about flights",
                "conversationId": CONVERSATION,
                "occurredAt": "2025-01-12T00:00:00Z",
            }
        ],
    )
    assert len(run_recall(backend, scope, query="flight", observationsLimit=2)["observations"]) == 2
    assert run_recall(backend, scope, query="flight", observationsLimit=0)["observations"] == []
    assert len(run_recall(backend, scope, query="flight")["summaries"]) == 1
    assert run_recall(backend, scope, query="flight", summariesLimit=0)["summaries"] == []

    dated = run_recall(backend, scope, query="flight", beginDate="2025-01-11T00:00:00Z", endDate="2025-01-13T00:00:00Z")
    assert sorted(contents(dated["observations"])) == ["Flight 1 booked", "Flight 2 booked"]

    everything = run_recall(backend, scope, query="flight 3 booked")["observations"]
    assert len(everything) == 6
    cut = everything[0]["score"]
    kept = run_recall(backend, scope, query="flight 3 booked", relevanceThreshold=cut)["observations"]
    assert contents(kept) == ["Flight 3 booked"]


def test_no_query_gives_the_most_recent_unscored(backend, scope):
    seed(
        backend,
        scope,
        [
            obs("old", occurred="2024-01-01T00:00:00Z"),
            obs("new", occurred="2025-06-01T00:00:00Z"),
            obs("middle", occurred="2025-01-01T00:00:00Z"),
        ],
    )
    result = run_recall(backend, scope, relevanceThreshold=0.9)
    assert result["meta"]["searchMode"] == "recent"
    assert contents(result["observations"]) == ["new", "middle", "old"]
    assert all("score" not in item for item in result["observations"])
    assert contents(run_recall(backend, scope, query="   ", observationsLimit=1)["observations"]) == ["new"]
    # A conversation with no memories gives no query either.
    assert run_recall(backend, scope, conversationId=OTHER_CONVERSATION)["meta"]["searchMode"] == "recent"


def test_a_conversation_without_a_query_expands_into_one(backend, scope):
    seed(
        backend,
        scope,
        [obs("Prefers window seats on flights"), obs("Allergic to peanuts"), obs("Reach by email only")],
        [
            {
                "content": "Customer rebooked a cancelled flight to Lisbon",
                "conversationId": CONVERSATION,
                "occurredAt": "2025-01-12T00:00:00Z",
            }
        ],
    )
    result = run_recall(backend, scope, conversationId=CONVERSATION)
    assert result["meta"]["searchMode"] == "hybrid"
    assert contents(result["observations"])[0] == "Prefers window seats on flights"
    assert all("score" in item for item in result["observations"] + result["summaries"])


def test_merged_profiles_memories_are_recalled_through_the_survivor(backend, store, scope):
    merged_sid = insert_profile(backend, store)
    with backend.db.reading() as session:
        merged_pk = session.scalar(select(Profile.id).where(Profile.sid == merged_sid))
    seed(
        backend,
        Scope(scope.store_pk, ProfileRef(merged_pk, merged_sid), merged_sid),
        [obs("Prefers aisle seats")],
    )
    merge_into(backend, scope.profile.sid, merged_sid)
    assert contents(run_recall(backend, scope, query="aisle")["observations"]) == ["Prefers aisle seats"]


def test_a_content_patch_makes_the_embedding_pending_again(backend, scope):
    seed(backend, scope, [obs("Prefers aisle seats")])
    with backend.db.writing() as session:
        observation = session.scalar(select(Observation).where(Observation.profile_id == scope.profile.pk))
        observations_service.patch(session, scope, observation.sid, ObservationBase(content="Allergic to nuts"), None)
        embedding = session.scalar(select(MemoryEmbedding).where(MemoryEmbedding.observation_id == observation.id))
        assert embedding.vector is None and embedding.generation == 2
        # A worker that encoded the old text cannot store its now-stale vector.
        repository.store_embeddings(session, [(embedding.id, 1, b"stale")], "stand-in")
        session.flush()
        session.refresh(embedding)
        assert embedding.vector is None


# --- over HTTP ------------------------------------------------------------------------


@pytest.fixture
def profile(backend, store) -> str:
    return insert_profile(backend, store)


def url(store, profile, tail="Recall") -> str:
    return f"/v1/Stores/{store}/Profiles/{profile}/{tail}"


def post_observations(api, store, profile, *items):
    response = api.post(url(store, profile, "Observations"), json={"observations": list(items)})
    assert response.status_code == 202, response.text


def test_empty_body_answers_the_most_recent(api, store, profile):
    post_observations(
        api,
        store,
        profile,
        obs("first", occurred="2025-01-01T00:00:00Z"),
        obs("second", occurred="2025-02-01T00:00:00Z"),
    )
    for kwargs in ({"json": {}}, {}):
        response = api.post(url(store, profile), **kwargs)
        assert response.status_code == 200, response.text
        assert_conforms(response)
        body = response.json()
        assert contents(body["observations"]) == ["second", "first"]
        assert body["summaries"] == [] and body["communications"] == []
        assert isinstance(body["meta"]["queryTime"], int) and body["meta"]["queryTime"] >= 0
        item = body["observations"][0]
        assert {"id", "content", "source", "occurredAt", "createdAt", "updatedAt"} <= item.keys()
        assert "score" not in item


def test_query_over_http(api, store, profile):
    post_observations(api, store, profile, obs("Customer prefers window seats"), obs("Customer is allergic to peanuts"))
    response = api.post(
        url(store, profile),
        json={
            "query": "window seat",
            "observationsLimit": 5,
            "summariesLimit": 2,
            "communicationsLimit": 10,
            "relevanceThreshold": 0.0,
            "conversationId": CONVERSATION,
        },
    )
    assert response.status_code == 200, response.text
    assert_conforms(response)
    body = response.json()
    assert contents(body["observations"])[0] == "Customer prefers window seats"
    assert 0 < body["observations"][0]["score"] <= 1
    assert body["communications"] == []  # no communications are stored
    assert body["meta"]["searchMode"] in ("hybrid", "lexical")


BAD_REQUESTS = {
    "observationsLimit too big": {"observationsLimit": 101},
    "negative summariesLimit": {"summariesLimit": -1},
    "communicationsLimit too big": {"communicationsLimit": 1000},
    "limit not a number": {"observationsLimit": "many"},
    "threshold above one": {"relevanceThreshold": 1.5},
    "malformed beginDate": {"beginDate": "2025-02-30T00:00:00Z"},
    "endDate without offset": {"endDate": "2025-01-01T00:00:00"},
    "dates reversed": {"beginDate": "2025-02-01T00:00:00Z", "endDate": "2025-01-01T00:00:00Z"},
    "query too long": {"query": "x" * 1025},
    "bad conversationId": {"conversationId": "conv_conversation_short"},
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_recall_requests(api, store, profile, name):
    response = api.post(url(store, profile), json=BAD_REQUESTS[name])
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert response.json()["message"]


def test_recall_of_a_merged_profile_redirects(api, store, backend):
    survivor, merged = insert_profile(backend, store), insert_profile(backend, store)
    merge_into(backend, survivor, merged)
    response = api.post(url(store, merged), json={"query": "anything"})
    assert response.status_code == 308
    assert_conforms(response)
    assert response.headers["Canonical-Profile-Id"] == survivor
    assert response.headers["Location"].endswith(url(store, survivor))


def test_through_the_twilio_sdk(twilio_client, api, store, profile):
    from twilio.rest.memory.v1.recall import RecallList

    post_observations(api, store, profile, obs("Prefers window seats"), obs("Allergic to peanuts"))
    result = twilio_client.memory.v1.recall(store, profile).create(
        RecallList.MemoryRetrievalRequest({"query": "peanut allergy", "observationsLimit": 1, "summariesLimit": 2})
    )
    assert contents(result.observations) == ["Allergic to peanuts"]
    assert result.communications == []
    assert "queryTime" in result.meta
    everything = twilio_client.memory.v1.recall(store, profile).create(RecallList.MemoryRetrievalRequest({}))
    assert len(everything.observations) == 2


def test_without_embeddings_recall_is_lexical_and_says_so(backend, account, tmp_path, caplog):
    with (
        caplog.at_level(logging.WARNING, logger="convmem"),
        app_api(backend, tmp_path, account, embeddings="off") as api,
    ):
        store = api.create_store()
        profile = insert_profile(backend, store)
        post_observations(api, store, profile, obs("Prefers window seats"), obs("Likes sitting by the aisle"))
        body = api.post(url(store, profile), json={"query": "window seat"}).json()
    assert body["meta"]["searchMode"] == "lexical"
    assert contents(body["observations"]) == ["Prefers window seats"]
    assert body["observations"][0]["score"] == pytest.approx(1.0)
    assert "CONVMEM_EMBEDDINGS=off" in caplog.text and "lexical-only" in caplog.text


# --- with the real model --------------------------------------------------------------


def pending_embeddings(backend, profile_sid) -> int:
    with backend.db.reading() as session:
        return session.scalar(
            select(func.count())
            .select_from(MemoryEmbedding)
            .outerjoin(Observation, Observation.id == MemoryEmbedding.observation_id)
            .outerjoin(ConversationSummary, ConversationSummary.id == MemoryEmbedding.summary_id)
            .join(Profile, Profile.id == func.coalesce(Observation.profile_id, ConversationSummary.profile_id))
            .where(Profile.sid == profile_sid, MemoryEmbedding.vector.is_(None))
        )


def test_the_model_finds_a_paraphrase_that_shares_no_word(api, store, profile, backend):
    post_observations(
        api,
        store,
        profile,
        obs("The customer wants to sit next to the corridor when flying"),
        obs("Pays the invoice by bank transfer every month"),
        obs("Has a dog called Biscuit"),
    )
    # Read your writes: embedded in the write, found semantically by the very next Recall.
    assert pending_embeddings(backend, profile) == 0
    body = api.post(url(store, profile), json={"query": "aisle seat preference on planes"}).json()
    assert body["meta"]["searchMode"] == "hybrid"
    assert contents(body["observations"])[0] == "The customer wants to sit next to the corridor when flying"
    assert "Has a dog called Biscuit" not in contents(body["observations"])


def test_a_summary_and_a_patched_observation_are_found_semantically_at_once(api, store, profile, backend):
    path = f"/v1/Stores/{store}/Profiles/{profile}"
    summary = {"content": "Wants bills emailed rather than posted", "occurredAt": "2025-01-15T10:00:00Z", "conversationId": CONVERSATION}
    assert api.post(f"{path}/ConversationSummaries", json={"summaries": [summary]}).status_code == 202
    post_observations(api, store, profile, obs("Has a dog called Biscuit"))
    observation_id = api.get(f"{path}/Observations").json()["observations"][0]["id"]
    patched = api.patch(f"{path}/Observations/{observation_id}", json={"content": "Is vegetarian and avoids meat"})
    assert patched.status_code == 202
    assert pending_embeddings(backend, profile) == 0

    body = api.post(url(store, profile), json={"query": "invoices by electronic mail"}).json()
    assert [s["content"] for s in body["summaries"]] == ["Wants bills emailed rather than posted"]
    body = api.post(url(store, profile), json={"query": "plant-based diet", "summariesLimit": 0}).json()
    assert contents(body["observations"])[0] == "Is vegetarian and avoids meat"


def test_real_embeddings_are_unit_vectors_of_the_model():
    np = pytest.importorskip("numpy")
    from convmem.config import Settings
    from convmem.memory.embeddings import DIMENSIONS, embedder_for

    embedder = embedder_for(Settings())
    vectors = embedder.encode(["likes aisle seats", "prefers sitting by the corridor", "allergic to peanuts"])
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    assert all(math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-4) for v in vectors)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_stored_timestamps_are_utc(backend, scope):
    seed(backend, scope, [obs("offset", occurred="2025-01-15T12:00:00+02:00")])
    with backend.db.reading() as session:
        row = session.scalar(select(Observation).where(Observation.profile_id == scope.profile.pk))
    assert iso(row.occurred_at) == "2025-01-15T10:00:00Z"


# --- the memory cache: tokenised texts and decoded vectors ------------------------------


def test_cached_vectors_are_read_once_and_follow_every_write(backend, scope, monkeypatch):
    cache = MemoryCache()
    reads = []
    read_memories = repository.searched_memories

    def counting(*args, after_key=None):
        reads.append("added since" if after_key is not None else "all")
        return read_memories(*args, after_key=after_key)

    monkeypatch.setattr(repository, "searched_memories", counting)

    def found(query):
        return contents(run_recall(backend, scope, memory_cache=cache, query=query)["observations"])

    def sid_of(content):
        with backend.db.reading() as session:
            return session.scalar(
                select(Observation.sid).where(Observation.content == content, Observation.profile_id == scope.profile.pk)
            )

    seed(backend, scope, [obs("Allergic to peanuts")])
    assert found("corridor sitting") == []
    assert found("nuts meal") == ["Allergic to peanuts"]
    assert len(reads) == 2  # once per kind of memory; the second Recall used the cache

    seed(backend, scope, [obs("Prefers aisle seats")])  # added: only the new memory is read
    assert found("corridor sitting") == ["Prefers aisle seats"]
    assert found("peanuts") == ["Allergic to peanuts"]
    assert reads == ["all", "all", "added since"]

    # Deleted, and a new memory written: SQLite gives it the id of the deleted newest row.
    with backend.db.writing() as session:
        observations_service.remove(session, scope, sid_of("Prefers aisle seats"))
    seed(backend, scope, [obs("Reach by email only")])
    assert found("corridor sitting") == []
    assert reads[-2:] == ["added since", "all"]  # what was cached changed: read again
    assert found("phone sms") == ["Reach by email only"]

    with backend.db.writing() as session:  # text changed, vector computed on write
        fields = ObservationBase(content="Happy on the aisle")
        observations_service.patch(session, scope, sid_of("Reach by email only"), fields, StandInEmbedder())
    assert found("corridor sitting") == ["Happy on the aisle"]
    assert found("phone sms") == []

    seed(backend, scope, [obs("Books a plane trip monthly")], embed=False)  # pending: no vector yet
    assert found("flying") == []
    with backend.db.writing() as session:  # a worker stores its vector
        embedding_id, generation = session.execute(
            select(MemoryEmbedding.id, MemoryEmbedding.generation)
            .join(Observation, Observation.id == MemoryEmbedding.observation_id)
            .where(Observation.sid == sid_of("Books a plane trip monthly"))
        ).one()
        vector = StandInEmbedder().encode(["Books a plane trip monthly"])[0].tobytes()
        repository.store_embeddings(session, [(embedding_id, generation, vector)], StandInEmbedder.name)
    assert found("flying") == ["Books a plane trip monthly"]


def test_the_cache_keeps_to_its_budget():
    np = pytest.importorskip("numpy")
    from convmem.memory.lexical import LexicalIndex
    from convmem.memory.memory_cache import Fingerprint, ProfileMemories

    def entry(rows):
        fingerprint = Fingerprint(rows, rows, rows, rows, "sid")
        memories = ProfileMemories(fingerprint, LexicalIndex([]), list(range(rows)), np.zeros((rows, 4), np.float32))
        return fingerprint, memories

    cache = MemoryCache(budget_bytes=3 * 16 * 10)  # three entries of 10 rows of 4 float32
    for profile in range(4):
        cache.put(("observations", profile), entry(10)[1])
    assert cache.get(("observations", 0)) is None  # the least recently used went
    assert cache.get(("observations", 3)) is not None

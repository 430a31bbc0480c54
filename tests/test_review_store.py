"""The review queue store: one item per document, the state machine, leases, and exclusive claims."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import ReviewConflictError, ReviewItemNotFoundError
from pipeline.review import open_review_store
from schemas import Decision, Invoice, RecordStatus, ReviewState
from tests.review_fixtures import LOW_CONFIDENCE_REASON, doc_id, review_record


class Clock:
    """A settable clock: lease expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_enqueue_keeps_one_item_per_document_and_only_needs_review(review_db: str) -> None:
    store = open_review_store(review_db)
    batch = [review_record(doc_id(1)), review_record(doc_id(2), status=RecordStatus.ACCEPTED)]
    assert store.enqueue(batch) == 1
    store.claim(doc_id(1), "ana")
    assert store.enqueue(batch) == 0  # re-ingest: no duplicate, the claim survives
    assert store.count() == 1
    item = store.get(doc_id(1))
    assert item.state is ReviewState.IN_REVIEW and item.claimed_by == "ana"
    assert item.fields["total"].bbox is not None and item.fields["total"].raw_text == "$1583.55"
    assert item.reason_codes == ["total_mismatch"] and item.issues[0].field == "total"
    assert item.reasons == ["Subtotal 1,430.50 plus tax 143.05 is 1,573.55 but the total says 1,583.55"]
    assert str(item.amount) == "1583.55"


def test_state_machine_claim_decide_and_decisions_are_final(review_db: str) -> None:
    store = open_review_store(review_db)
    store.enqueue([review_record(doc_id(1)), review_record(doc_id(2))])
    item = store.claim(doc_id(1), "ana")
    assert item.state is ReviewState.IN_REVIEW
    with pytest.raises(ReviewConflictError, match="being reviewed by ana"):
        store.claim(doc_id(1), "ben")
    with pytest.raises(ReviewConflictError):
        store.decide(doc_id(1), "ben", Decision.APPROVED)
    fixed = item.invoice.model_copy(update={"total": item.invoice.subtotal + item.invoice.tax})  # type: ignore[operator]
    decided = store.decide(doc_id(1), "ana", Decision.CORRECTED, corrected=fixed)
    assert decided.state is ReviewState.CORRECTED and decided.reviewer == "ana" and decided.decided_at is not None
    assert decided.corrected is not None and str(decided.corrected.total) == "1573.55"
    assert decided.claimed_by is None
    with pytest.raises(ReviewConflictError, match="already corrected"):
        store.claim(doc_id(1), "ana")
    rejected = store.decide(doc_id(2), "ben", Decision.REJECTED, note="duplicate of INV-41")
    assert rejected.state is ReviewState.REJECTED and rejected.note == "duplicate of INV-41"
    assert store.counts().by_state == {"corrected": 1, "rejected": 1}
    with pytest.raises(ReviewItemNotFoundError):
        store.get(doc_id(3))


def test_release_and_draft(review_db: str) -> None:
    store = open_review_store(review_db)
    store.enqueue([review_record(doc_id(1))])
    store.claim(doc_id(1), "ana")
    store.save_draft(doc_id(1), "ana", Invoice(vendor_name="Draft Co"))
    store.release(doc_id(1), "ben")  # not the holder: nothing happens
    assert store.get(doc_id(1)).state is ReviewState.IN_REVIEW
    store.release(doc_id(1), "ana")
    item = store.get(doc_id(1))
    assert item.state is ReviewState.PENDING and item.draft is not None and item.draft.vendor_name == "Draft Co"


def test_expired_lease_is_claimable_again(review_db: str) -> None:
    clock = Clock()
    store = open_review_store(review_db, clock=clock)
    store.enqueue([review_record(doc_id(1))])
    store.claim(doc_id(1), "ana", lease=timedelta(minutes=10))
    assert store.claim_next("ben") is None
    clock.now += timedelta(minutes=9)
    with pytest.raises(ReviewConflictError):
        store.claim(doc_id(1), "ben")
    clock.now += timedelta(minutes=2)
    taken = store.claim_next("ben")
    assert taken is not None and taken.claimed_by == "ben"
    with pytest.raises(ReviewConflictError, match="ben"):
        store.decide(doc_id(1), "ana", Decision.APPROVED)  # ana's lease is gone


def test_queue_order_is_amount_then_age_and_filters_by_reason(review_db: str) -> None:
    clock = Clock()
    store = open_review_store(review_db, clock=clock)
    store.enqueue([review_record(doc_id(1), total="50.00", reasons=[LOW_CONFIDENCE_REASON])])
    clock.now += timedelta(minutes=1)
    store.enqueue([review_record(doc_id(2), total="9000.00"), review_record(doc_id(3), total="50.00")])
    assert [i.document_id for i in store.list_items()] == [doc_id(2), doc_id(1), doc_id(3)]
    assert [i.document_id for i in store.list_items(reason="low_confidence")] == [doc_id(1)]
    assert store.counts().by_reason == {"total_mismatch": 2, "low_confidence": 1}
    first = store.claim_next("ana")
    assert first is not None and first.document_id == doc_id(2)
    assert store.resolve_id(doc_id(2)) == doc_id(2)
    with pytest.raises(ReviewItemNotFoundError, match="more than one"):
        store.resolve_id("000000")


def _claim_in_thread(path: str, reviewer: str, barrier: threading.Barrier, results: dict[str, list[str]]) -> None:
    store = open_review_store(path)
    barrier.wait()
    taken: list[str] = []
    while (item := store.claim_next(reviewer)) is not None:
        taken.append(item.document_id)
    results[reviewer] = taken


@pytest.mark.timeout(120)
def test_two_concurrent_claimers_never_hold_the_same_item(review_db: str) -> None:
    path = review_db
    store = open_review_store(path)
    store.enqueue([review_record(doc_id(n), total=f"{n}.00") for n in range(1, 41)])
    barrier = threading.Barrier(2)
    results: dict[str, list[str]] = {}
    threads = [threading.Thread(target=_claim_in_thread, args=(path, r, barrier, results)) for r in ("ana", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results["ana"]).isdisjoint(results["ben"])
    assert sorted(results["ana"] + results["ben"]) == sorted(doc_id(n) for n in range(1, 41))
    holders = {item.document_id: item.claimed_by for item in store.list_items()}
    assert all(holders[d] == "ana" for d in results["ana"]) and all(holders[d] == "ben" for d in results["ben"])


def _claim_one(path: str, reviewer: str, start: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import time

    store = open_review_store(path)
    time.sleep(max(0.0, start - time.time()))
    try:
        store.claim(doc_id(7), reviewer)
        queue.put((reviewer, "claimed"))
    except ReviewConflictError:
        queue.put((reviewer, "refused"))


@pytest.mark.timeout(120)
def test_two_processes_racing_for_one_item_only_one_wins(review_db: str) -> None:
    import time

    path = review_db
    open_review_store(path).enqueue([review_record(doc_id(7))])
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = time.time() + 2.0
    processes = [context.Process(target=_claim_one, args=(path, r, start, queue)) for r in ("ana", "ben")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    outcomes = sorted(queue.get(timeout=5)[1] for _ in processes)
    assert outcomes == ["claimed", "refused"]

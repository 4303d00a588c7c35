"""Checkpoint records: the guard's fields are persisted, and records written before them still load."""

import json
from dataclasses import asdict

from edgeclean.results import ChunkResult

OLD_RECORD = {
    "index": 0,
    "first_page": 1,
    "last_page": 1,
    "source_sha256": "ab",
    "source_tokens": 10,
    "text": "Cleaned.",
    "finish_reason": "stop",
    "prompt_tokens": 50,
    "completion_tokens": 3,
    "seconds": 0.1,
    "acknowledgement_stripped": False,
    "finished": "2026-01-01T00:00:00+00:00",
}


def test_a_record_from_before_the_guard_loads_with_defaults():
    result = ChunkResult.from_dict(OLD_RECORD)
    assert result.decision == "model" and result.attempts == [] and not result.fell_back


def test_guard_fields_round_trip_through_json():
    attempts = [{"passed": False, "reasons": ["summarised"], "recall": 0.4}]
    result = ChunkResult.from_dict(OLD_RECORD | {"mode": "select", "decision": "fallback", "attempts": attempts})
    again = ChunkResult.from_dict(json.loads(json.dumps(asdict(result))))
    assert again == result and again.fell_back

"""The realtime recorder: websocket -> bounded queue -> writer thread -> the day's journal.

    lock     one recorder per KISDB_HOME (`journal/recorder.lock`, RecorderBusy)
    writer   the sink (enqueue, never wait) and the thread that writes and fsyncs the journal
    stats    live counters, the periodic stats line / rich table, stale-stream reports
    session  `record`: one recording session until a deadline, a signal or `stop`
    flows    `compact` and `replay` of recorded journals; the Prefect flows of prefect.yaml

`python -m pipelines.recorder --symbols ... --for 30s` runs `kisdb record`.
"""

from pipelines.recorder.lock import LOCK_NAME, RecorderBusy, journal_lock
from pipelines.recorder.session import (
    RecorderConfig,
    RecordResult,
    parse_duration,
    parse_until,
    record,
    subscriptions_for,
)

__all__ = [
    "LOCK_NAME",
    "RecordResult",
    "RecorderBusy",
    "RecorderConfig",
    "journal_lock",
    "parse_duration",
    "parse_until",
    "record",
    "subscriptions_for",
]

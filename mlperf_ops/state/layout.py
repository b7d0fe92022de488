"""Names inside the state directory: the one place they are spelled.

    records/<key>/record.json + artifacts   finished runs ("done"), one per content key
    attempts/<stamp>-<key12>/...            failed, invalid or retired attempts, kept apart
    staging/<key12>-<pid>-<n>/              a run in progress
    originals/<tree>/<path>/<sha256>/...    untruncated accuracy logs replaced in a tree
    probes/<system>.json                    host facts of the machine a system ran on
    digests.json                            cached sha256 of declared model/data set files
    receipts/<sha256>.json                  what the portal said about each upload
    sidecars/                               the full output of each LLM server sidecar
    lock                                    held by the one `apply` allowed at a time

Inside one run's directory (a staged attempt, then a record):

    config/        LoadGen's inputs (user.conf, audit.config), mounted read-only
    output/        what the harness wrote (LoadGen's logs, accuracy.txt)
    verification/  an audit's verification files, copied into the tree as they are
    scratch/       files an audit's verification needed on the way
    container.log  the harness's output; accuracy-script.log: the accuracy script's

A bundle (`mlperf-ops export`) carries `records/` and `probes/` laid out the same way.
"""

from __future__ import annotations

RECORDS = "records"
ATTEMPTS = "attempts"
STAGING = "staging"
ORIGINALS = "originals"
PROBES = "probes"
DIGEST_CACHE = "digests.json"
RECEIPTS = "receipts"
SIDECARS = "sidecars"
LOCK = "lock"

RECORD_FILE = "record.json"
CONFIG = "config"
OUTPUT = "output"
VERIFICATION = "verification"
SCRATCH = "scratch"
CONTAINER_LOG = "container.log"
ACCURACY_SCRIPT_LOG = "accuracy-script.log"

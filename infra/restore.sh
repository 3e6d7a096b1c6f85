#!/usr/bin/env bash
# Restores a dump made by backup.sh into the database named by DATABASE_URL, dropping and
# recreating the objects the dump contains, in a single transaction.
#
#   DATABASE_URL=postgres://lms:...@host:5432/lms infra/restore.sh lms-20260101T000000Z.dump
#
# Stop the LMS server first. Roles are not part of the dump: the lms_app and lms_operator roles
# must exist in the target cluster (the server's first migration creates them).
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the connection URL of the database owner}"
file="${1:?usage: $0 <backup.dump>}"
if [[ ! -r "$file" ]]; then
    echo "cannot read $file" >&2
    exit 1
fi

pg_restore --clean --if-exists --single-transaction --dbname="$DATABASE_URL" "$file"

#!/usr/bin/env bash
# Dumps the LMS database (pg_dump custom format, compressed) into a timestamped file.
#
#   DATABASE_URL=postgres://lms:...@host:5432/lms infra/backup.sh [backup-dir]
#
# The backup directory defaults to $LMS_BACKUP_DIR, then /var/backups/lms. Prints the file's path.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the connection URL of the database owner}"
dir="${1:-${LMS_BACKUP_DIR:-/var/backups/lms}}"

umask 077
mkdir -p "$dir"
file="$dir/lms-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$file.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --dbname="$DATABASE_URL" --file="$partial"
mv "$partial" "$file"
echo "$file"

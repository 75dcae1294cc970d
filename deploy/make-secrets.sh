#!/bin/sh
# Make the compose file's secrets once, in deploy/secrets/ (never overwrites one that exists).
# The hub's image runs as uid 10001 and PostgreSQL's as uid 999: each file is readable by its
# reader only (run as root to chown; otherwise the files stay yours, mode 600).
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
umask 077
secret() {  # name owner content
  [ -e "secrets/$1" ] && return 0
  printf '%s' "$3" > "secrets/$1"
  chown "$2" "secrets/$1" 2>/dev/null || true
}
random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
password=$(cat secrets/postgres_password 2>/dev/null || random)
secret postgres_password 999 "$password"
secret store_url 10001 "postgresql://crossroads:$password@postgres:5432/crossroads"
secret admin_token 10001 "$(random)"
secret subject_hash_secret 10001 "$(random)"
secret session_secret 10001 "$(random)"
echo "secrets in $(pwd)/secrets: back them up with the database (docs/operations.md)"

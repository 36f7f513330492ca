# shellcheck shell=bash
# Shared by scripts/run and bench/: writes a finch.json the way finchctl does.

# write_finch_json FILE [HOSTNAME] [DATABASE]
# Creates FILE (mode 0600) with created_at (RFC3339, UTC), database (default sqlite://finch.db),
# hostname (default localhost), id (first 16 hex chars of sha256(hostname)) and secret (base64 of
# 32 random bytes; finch uses the base64 text itself as the HMAC key).
write_finch_json() {
    local file=$1 hostname=${2:-localhost} database=${3:-sqlite://finch.db}
    local created_at id secret
    created_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    id=$(printf '%s' "$hostname" | sha256sum | cut -c1-16)
    secret=$(head -c 32 /dev/urandom | base64 -w0)
    (
        umask 077
        cat >"$file" <<JSON
{
  "created_at": "$created_at",
  "database": "$database",
  "hostname": "$hostname",
  "id": "$id",
  "secret": "$secret"
}
JSON
    )
    chmod 600 "$file"
}

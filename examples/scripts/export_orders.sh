#!/usr/bin/env bash
# Rendered with Jinja before it runs: {{ ds }} is the run's logical date.
# Writes the day's orders to $OUT_DIR atomically (temporary file, then rename).
set -euo pipefail
mkdir -p "$OUT_DIR"
out="$OUT_DIR/orders_{{ ds_nodash }}.csv"
{
  echo "order_id,amount"
  for n in 1 2 3 4; do
    echo "{{ ds_nodash }}-$n,$((n * 25))"
  done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"

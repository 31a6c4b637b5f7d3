#!/bin/sh
# Writes to stdout a 10 MiB body that looks like valid HI-1 XML (a real
# sample whose AuthorisationJurisdiction is padded), for the HTTP body cap
# test: too large to keep in the repository as a file.
# usage: tests/xml-attacks/large-body.sh > /tmp/large-body.xml
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sample="$here/../../etc/samples/subscriber-msisdn.xml"
size=$((10 * 1024 * 1024))
head=$(sed -n '1,/<auth:AuthorisationJurisdiction>/p' "$sample" | sed '$d')
tail=$(sed -n '/<auth:AuthorisationJurisdiction>/,$p' "$sample")
printf '%s\n' "$head"
printf '<auth:AuthorisationJurisdiction>'
pad=$((size - ${#head} - ${#tail} - 64))
head -c "$pad" /dev/zero | tr '\0' 'x'
printf '%s\n' "${tail#*<auth:AuthorisationJurisdiction>}"

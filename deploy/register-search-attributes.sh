#!/bin/sh
# Registers the hub's search attributes on the cluster (idempotent: an existing attribute is left as it is).
# Run once by the `temporal-setup` service; on Temporal Cloud, create the same ones in the namespace settings.
# The list mirrors workflows/search_attributes.py (a test keeps them equal).
set -eu
ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do sleep 2; done
for attribute in \
  OrderStatus=Keyword \
  PaymentStatus=Keyword \
  FulfillmentStatus=Keyword \
  CustomerId=Keyword \
  OrderTotal=Int \
  Channel=Keyword \
  OrderId=Keyword \
  ReturnStatus=Keyword \
  BackorderedSkus=KeywordList \
  ActionReason=Keyword
do
  temporal operator search-attribute create --address "$ADDRESS" --namespace default \
    --name "${attribute%%=*}" --type "${attribute##*=}" 2>/dev/null || echo "${attribute%%=*} exists"
done

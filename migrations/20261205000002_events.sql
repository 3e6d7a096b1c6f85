-- Domain events get a schema version and an index for the newest-first listing of one type.
-- (The table, written in the transaction of each change of consequence, came with progress.)
alter table domain_events add column version integer not null default 1 check (version >= 1);
create index domain_events_listing on domain_events (tenant_id, kind, id desc);
drop index domain_events_kind;

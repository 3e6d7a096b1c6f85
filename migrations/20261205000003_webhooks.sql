-- Tenant webhooks: endpoints a tenant admin registers, one delivery per (event, endpoint), and
-- the log of every attempt. Deliveries are signed and sent by `webhook.deliver` jobs.

-- A time-ordered UUID (version 7) for rows created in SQL (by triggers), so they sort by
-- creation like the ids the application makes: 48 bits of Unix milliseconds, then random bits,
-- with the version and variant set.
create function lms_uuid_v7() returns uuid
language sql volatile parallel safe as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

create table webhook_endpoints (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    url text not null check (length(url) between 1 and 2000),
    description text not null default '' check (length(description) <= 500),
    -- The event types delivered; empty: every type.
    event_types text[] not null default '{}' check (cardinality(event_types) <= 50),
    enabled boolean not null default true,
    -- Why the platform disabled the endpoint: it failed for days, or answered 410 Gone.
    disabled_reason text check (disabled_reason in ('failing', 'gone')),
    -- `whsec_` + base64 of 32 random bytes; shown once, when created or rotated.
    secret text not null check (secret like 'whsec\_%'),
    -- After a rotation, deliveries are signed with the previous secret too until it expires.
    previous_secret text check (previous_secret like 'whsec\_%'),
    previous_secret_expires_at timestamptz,
    -- The first failed attempt since the last successful one.
    failing_since timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    check ((previous_secret is null) = (previous_secret_expires_at is null)),
    check (disabled_reason is null or not enabled)
);
create trigger webhook_endpoints_updated_at before update on webhook_endpoints
    for each row execute function set_updated_at();
create index webhook_endpoints_enabled on webhook_endpoints (tenant_id) where enabled;

create table webhook_deliveries (
    tenant_id uuid not null,
    id uuid not null,
    endpoint_id uuid not null,
    event_id uuid not null,
    event_type text not null,
    state text not null default 'pending' check (state in ('pending', 'succeeded', 'failed')),
    attempts integer not null default 0 check (attempts >= 0),
    -- When the next scheduled attempt is due (pending deliveries that failed before).
    next_attempt_at timestamptz,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id) on delete cascade,
    foreign key (tenant_id, event_id) references domain_events (tenant_id, id) on delete cascade,
    check ((state = 'pending') = (finished_at is null))
);
create index webhook_deliveries_listing on webhook_deliveries (tenant_id, endpoint_id, id desc);
create index webhook_deliveries_event on webhook_deliveries (tenant_id, event_id);
-- Finished deliveries (and their attempts) are pruned after 30 days.
create index webhook_deliveries_finished on webhook_deliveries (finished_at) where finished_at is not null;

create table webhook_attempts (
    tenant_id uuid not null,
    delivery_id uuid not null,
    attempt integer not null check (attempt >= 1),
    attempted_at timestamptz not null default now(),
    -- The receiver's HTTP status; null when no answer came (refused, unreachable, timed out).
    status integer check (status between 100 and 599),
    latency_ms integer not null check (latency_ms >= 0),
    -- The start of the answer's body, or why there was no answer.
    response_excerpt text not null default '' check (length(response_excerpt) <= 1024),
    error text check (length(error) <= 1000),
    primary key (tenant_id, delivery_id, attempt),
    foreign key (tenant_id, delivery_id) references webhook_deliveries (tenant_id, id) on delete cascade
);

alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy tenant_isolation on webhook_endpoints to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy tenant_isolation on webhook_deliveries to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table webhook_attempts enable row level security;
alter table webhook_attempts force row level security;
create policy tenant_isolation on webhook_attempts to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete on webhook_endpoints to lms_app;
grant select, insert, update on webhook_deliveries to lms_app;
grant select, insert on webhook_attempts to lms_app;
grant select, insert, update, delete on webhook_endpoints, webhook_deliveries, webhook_attempts to lms_operator;

-- Every inserted event becomes one delivery, and one `webhook.deliver` job, per enabled endpoint
-- of its tenant that takes its type: in the transaction that wrote the event, so a delivery
-- exists exactly when its event does, whichever code wrote it. The job's attempts (8) are the
-- retry schedule's length in `platform/src/webhooks/deliver.rs`.
create function webhook_deliveries_from_events() returns trigger
language plpgsql as $$
declare
    queued integer;
begin
    with created as (
        insert into webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type)
        select e.tenant_id, lms_uuid_v7(), w.id, e.id, e.kind
        from new_events e
        join webhook_endpoints w
          on w.tenant_id = e.tenant_id and w.enabled
         and (cardinality(w.event_types) = 0 or e.kind = any (w.event_types))
        returning tenant_id, id
    ), jobs_queued as (
        insert into jobs (tenant_id, id, kind, payload, max_attempts)
        select tenant_id, lms_uuid_v7(), 'webhook.deliver', jsonb_build_object('delivery_id', id), 8
        from created
        returning 1
    )
    select count(*) into queued from jobs_queued;
    if queued > 0 then
        perform pg_notify('lms_jobs', '');
    end if;
    return null;
end
$$;
create trigger domain_events_webhooks after insert on domain_events
    referencing new table as new_events
    for each statement execute function webhook_deliveries_from_events();

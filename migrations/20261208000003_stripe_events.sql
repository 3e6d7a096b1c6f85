-- Stripe webhook events a tenant's billing state was updated for. The event id is recorded in
-- the same transaction as its effect, so a redelivered event finds its id taken and changes
-- nothing. Kept per tenant (an event's customer names its tenant) and pruned after 90 days,
-- beyond Stripe's 30 days of redelivery.
create table stripe_events (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id text not null check (id ~ '^evt_[A-Za-z0-9_]{1,200}$'),
    type text not null check (length(type) between 1 and 100),
    stripe_created_at timestamptz not null,
    received_at timestamptz not null default now(),
    primary key (tenant_id, id)
);
create index stripe_events_received on stripe_events (tenant_id, received_at);

alter table stripe_events enable row level security;
alter table stripe_events force row level security;
create policy tenant_isolation on stripe_events to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert on stripe_events to lms_app;
grant select, delete on stripe_events to lms_operator;

-- A webhook's effect is written in its tenant's own transaction (with the event id and the
-- emails it queues), so the app role updates the subscription state of the tenant in context.
grant insert, update on tenant_billing to lms_app;

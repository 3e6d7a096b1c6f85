-- Billing: the operator's plans and each tenant's subscription state.

-- The plans the platform sells (platform reference data, replicated to every node under Citus).
-- A plan's entitlements decide what its tenants may use; `max_active_learners` and
-- `storage_quota_bytes` null mean unlimited. Exactly one plan is the default: every tenant's
-- plan while billing is off, and the plan of a tenant without a paying subscription.
create table billing_plans (
    id uuid primary key,
    name text not null check (length(name) between 1 and 100),
    stripe_price_id text check (stripe_price_id ~ '^price_[A-Za-z0-9_]{1,200}$'),
    seat_model text not null default 'per_active_learner'
        check (seat_model in ('per_active_learner', 'flat')),
    trial_days integer not null default 0 check (trial_days between 0 and 730),
    max_active_learners integer check (max_active_learners >= 0),
    sso_allowed boolean not null default true,
    custom_domains_allowed boolean not null default true,
    plugins_allowed boolean not null default true,
    storage_quota_bytes bigint check (storage_quota_bytes >= 0),
    is_default boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint billing_plans_name_key unique (name),
    constraint billing_plans_price_key unique (stripe_price_id)
);
create unique index billing_plans_one_default on billing_plans (is_default) where is_default;
create trigger billing_plans_updated_at before update on billing_plans
    for each row execute function set_updated_at();

-- Until the operator says otherwise, every tenant may use everything.
insert into billing_plans (id, name, is_default) values (gen_random_uuid(), 'Default', true);

alter table billing_plans enable row level security;
alter table billing_plans force row level security;
create policy billing_plans_read on billing_plans for select to lms_app using (true);
grant select on billing_plans to lms_app;
grant select, insert, update, delete on billing_plans to lms_operator;

-- A tenant's subscription as last read from Stripe (at most one row per tenant; none: no
-- subscription). `features`: the lookup keys of the customer's active Stripe entitlements,
-- null when Stripe reported none (the plan decides then). `synced_at`: when the state was read
-- from Stripe; a write carrying an older reading is ignored (newer wins). `past_due_since`
-- starts the grace period. Written by the billing module (operator role): the webhook that
-- carries the change arrives before its tenant is known.
create table tenant_billing (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    -- A plan is platform data (no tenant_id to key a foreign key by): an unknown id falls back
    -- to the default plan.
    plan_id uuid,
    stripe_customer_id text check (stripe_customer_id ~ '^cus_[A-Za-z0-9_]{1,200}$'),
    stripe_subscription_id text check (stripe_subscription_id ~ '^sub_[A-Za-z0-9_]{1,200}$'),
    status text not null default 'none' check (status in (
        'none', 'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
        'canceled', 'unpaid', 'paused'
    )),
    quantity integer check (quantity >= 0),
    trial_end timestamptz,
    current_period_end timestamptz,
    cancel_at_period_end boolean not null default false,
    past_due_since timestamptz,
    features text[],
    synced_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint tenant_billing_one_per_tenant unique (tenant_id)
);
create trigger tenant_billing_updated_at before update on tenant_billing
    for each row execute function set_updated_at();

alter table tenant_billing enable row level security;
alter table tenant_billing force row level security;
create policy tenant_isolation on tenant_billing to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select on tenant_billing to lms_app;
grant select, insert, update, delete on tenant_billing to lms_operator;

-- Which tenant a Stripe Customer belongs to: the routing data a Stripe webhook needs before its
-- tenant is known (platform reference data, like tenant_domains). One Customer per tenant.
-- Only the billing module writes and reads it, on the operator role's connection.
create table stripe_customers (
    customer_id text primary key check (customer_id ~ '^cus_[A-Za-z0-9_]{1,200}$'),
    tenant_id uuid not null references tenants (id) on delete cascade,
    created_at timestamptz not null default now(),
    constraint stripe_customers_one_per_tenant unique (tenant_id)
);

alter table stripe_customers enable row level security;
alter table stripe_customers force row level security;
grant select, insert, update, delete on stripe_customers to lms_operator;

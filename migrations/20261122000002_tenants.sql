-- The tenant registry. These are platform reference tables (replicated to every node under
-- Citus): the routing data needed before a request's tenant is known. The app role may read
-- them; only the operator role creates tenants or changes domains and status.
create table tenants (
    id uuid primary key,
    slug text not null unique check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    display_name text not null check (length(display_name) between 1 and 200),
    status text not null default 'active' check (status in ('active', 'suspended')),
    branding jsonb not null default '{}'::jsonb,
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger tenants_updated_at before update on tenants
    for each row execute function set_updated_at();

create table tenant_domains (
    domain text primary key check (domain = lower(domain) and length(domain) between 3 and 253),
    tenant_id uuid not null references tenants (id) on delete cascade,
    created_at timestamptz not null default now()
);
create index tenant_domains_tenant on tenant_domains (tenant_id);

alter table tenants enable row level security;
alter table tenants force row level security;
alter table tenant_domains enable row level security;
alter table tenant_domains force row level security;

-- Routing is public information (a domain or subdomain already names its tenant), so the app
-- role reads every row; it may change only its own tenant's branding and settings.
create policy tenants_read on tenants for select to lms_app using (true);
create policy tenants_update_own on tenants for update to lms_app
    using (id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_domains_read on tenant_domains for select to lms_app using (true);

grant select on tenants, tenant_domains to lms_app;
grant update (display_name, branding, settings, updated_at) on tenants to lms_app;
grant select, insert, update, delete on tenants, tenant_domains to lms_operator;

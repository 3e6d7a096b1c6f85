-- Per-tenant OpenID Connect single sign-on: connections to the tenant's identity providers,
-- email domains proven by a DNS TXT record, the server-side state of logins in flight, the
-- identities users sign in with, and the one-time codes SPAs and mobile apps exchange for tokens.

-- An identity provider of the tenant. The client secret is sealed (XChaCha20-Poly1305,
-- `secrets_at_rest`) with a key that is not in the database and bound to tenant and connection.
create table sso_connections (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    name text not null check (length(name) between 1 and 200),
    -- Exactly as the provider's discovery document states it (no normalisation).
    issuer text not null check (length(issuer) between 8 and 500),
    client_id text not null check (length(client_id) between 1 and 500),
    sealed_client_secret bytea not null check (length(sealed_client_secret) between 40 and 1200),
    scopes text[] not null default '{openid,email,profile}',
    email_claim text not null default 'email' check (length(email_claim) between 1 and 100),
    name_claim text not null default 'name' check (length(name_claim) between 1 and 100),
    groups_claim text not null default 'groups' check (length(groups_claim) between 1 and 100),
    -- [{"group": "...", "role": "..."}]: a user gets the roles of every mapped group they are in,
    -- or the default role when none matches; recomputed at every sign-in.
    group_roles jsonb not null default '[]' check (jsonb_typeof(group_roles) = 'array'),
    default_role text not null default 'learner'
        check (default_role in ('learner', 'instructor', 'mentor', 'tenant_admin', 'corporate_manager')),
    jit_provisioning boolean not null default false,
    sso_required boolean not null default false,
    -- The tenant admin who keeps a password while SSO is required.
    break_glass_user_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, break_glass_user_id) references users (tenant_id, id) on delete set null (break_glass_user_id)
);

-- An email domain the tenant claims. `verification_token` goes into a TXT record; a check that
-- finds it verifies the domain, one that does not marks it failed (it can be checked again).
create table sso_domains (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    domain text not null check (length(domain) between 3 and 253 and domain = lower(domain)),
    verification_token text not null check (length(verification_token) between 16 and 100),
    status text not null default 'pending' check (status in ('pending', 'verified', 'failed')),
    -- The connection users of this domain are sent to (home-realm discovery).
    connection_id uuid,
    verified_at timestamptz,
    last_checked_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, domain),
    foreign key (tenant_id, connection_id) references sso_connections (tenant_id, id) on delete set null (connection_id)
);

-- One verified owner per domain across all tenants. A global lookup (a reference table under
-- Citus): its primary key refuses a second tenant's claim even though RLS hides the first one.
create table sso_verified_domains (
    domain text primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    domain_id uuid not null,
    foreign key (tenant_id, domain_id) references sso_domains (tenant_id, id) on delete cascade
);
create index sso_verified_domains_tenant on sso_verified_domains (tenant_id);

-- A login in flight: state (stored as SHA-256), nonce and PKCE verifier, used once, for minutes.
create table sso_login_states (
    tenant_id uuid not null,
    id uuid not null,
    connection_id uuid not null,
    state_hash bytea not null check (length(state_hash) = 32),
    nonce text not null,
    pkce_verifier text not null,
    return_to text not null,
    -- 'cookie': the callback starts a cookie session; 'code': it hands out a one-time code.
    session_mode text not null check (session_mode in ('cookie', 'code')),
    expires_at timestamptz not null,
    consumed_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, state_hash),
    foreign key (tenant_id, connection_id) references sso_connections (tenant_id, id) on delete cascade
);

-- Who signs in through a connection: keyed by (connection, issuer, subject), never by email.
create table sso_identities (
    tenant_id uuid not null,
    id uuid not null,
    connection_id uuid not null,
    issuer text not null,
    subject text not null check (length(subject) between 1 and 255),
    user_id uuid not null,
    -- Authentication methods the provider reported at the last sign-in (`amr`).
    last_amr text[] not null default '{}',
    last_login_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, connection_id, issuer, subject),
    foreign key (tenant_id, connection_id) references sso_connections (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index sso_identities_user on sso_identities (tenant_id, user_id);

-- What an SPA or mobile app gets at its return address instead of tokens: a code (stored as
-- SHA-256) exchanged once, within a minute, for a session.
create table sso_login_codes (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    code_hash bytea not null check (length(code_hash) = 32),
    expires_at timestamptz not null,
    consumed_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, code_hash),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

alter table sso_connections enable row level security;
alter table sso_connections force row level security;
create policy tenant_isolation on sso_connections to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table sso_domains enable row level security;
alter table sso_domains force row level security;
create policy tenant_isolation on sso_domains to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table sso_verified_domains enable row level security;
alter table sso_verified_domains force row level security;
create policy tenant_isolation on sso_verified_domains to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table sso_login_states enable row level security;
alter table sso_login_states force row level security;
create policy tenant_isolation on sso_login_states to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table sso_identities enable row level security;
alter table sso_identities force row level security;
create policy tenant_isolation on sso_identities to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table sso_login_codes enable row level security;
alter table sso_login_codes force row level security;
create policy tenant_isolation on sso_login_codes to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update (name, issuer, client_id, sealed_client_secret, scopes, email_claim,
    name_claim, groups_claim, group_roles, default_role, jit_provisioning, sso_required,
    break_glass_user_id, updated_at), delete on sso_connections to lms_app;
grant select, insert, update (status, connection_id, verified_at, last_checked_at), delete
    on sso_domains to lms_app;
grant select, insert, delete on sso_verified_domains to lms_app;
grant select, insert, update (consumed_at), delete on sso_login_states to lms_app;
grant select, insert, update (user_id, last_amr, last_login_at), delete on sso_identities to lms_app;
grant select, insert, update (consumed_at), delete on sso_login_codes to lms_app;

-- A session started by single sign-on: it stays valid where SSO is required, password
-- sessions of such users end at their next refresh.
alter table refresh_tokens add column via_sso boolean not null default false;

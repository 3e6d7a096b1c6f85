-- Multi-factor authentication: TOTP credentials, single-use recovery codes, the challenges a
-- password sign-in answers with when a second factor is due, and the tenant's policy of which
-- roles must have one.

-- A user's TOTP credential. The seed is sealed (XChaCha20-Poly1305, `secrets_at_rest`) with a
-- key that is not in the database and bound to its tenant and user. Until `confirmed_at` is
-- set by a first valid code the enrollment is pending and MFA is not active.
create table mfa_credentials (
    tenant_id uuid not null,
    user_id uuid not null,
    sealed_secret bytea not null check (length(sealed_secret) between 40 and 200),
    -- The last TOTP time step accepted: a code of this step or an earlier one is a replay.
    last_used_step bigint check (last_used_step >= 0),
    confirmed_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, user_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

-- Recovery codes: 80 random bits each, stored as SHA-256 (bound to the user), used once.
create table mfa_recovery_codes (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    code_hash bytea not null check (length(code_hash) = 32),
    used_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references mfa_credentials (tenant_id, user_id) on delete cascade,
    unique (tenant_id, user_id, code_hash)
);

-- What a password sign-in of a user with MFA answers: an opaque token (stored as SHA-256) that
-- a TOTP or recovery code turns into a session, once, within minutes, in this tenant only.
create table mfa_challenges (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    token_hash bytea not null check (length(token_hash) = 32),
    failed_attempts integer not null default 0 check (failed_attempts >= 0),
    expires_at timestamptz not null,
    consumed_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
    unique (tenant_id, token_hash)
);
create index mfa_challenges_user on mfa_challenges (tenant_id, user_id);

-- The tenant's policy: users holding any of these roles must use a second factor.
create table mfa_required_roles (
    tenant_id uuid not null references tenants (id) on delete cascade,
    role text not null check (role in ('learner', 'instructor', 'mentor', 'tenant_admin', 'corporate_manager')),
    created_at timestamptz not null default now(),
    primary key (tenant_id, role)
);

-- A session that may only enroll in MFA (a user whose role requires it signed in without it).
alter table refresh_tokens add column mfa_enrollment_only boolean not null default false;

alter table mfa_credentials enable row level security;
alter table mfa_credentials force row level security;
create policy tenant_isolation on mfa_credentials to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table mfa_recovery_codes enable row level security;
alter table mfa_recovery_codes force row level security;
create policy tenant_isolation on mfa_recovery_codes to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table mfa_challenges enable row level security;
alter table mfa_challenges force row level security;
create policy tenant_isolation on mfa_challenges to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table mfa_required_roles enable row level security;
alter table mfa_required_roles force row level security;
create policy tenant_isolation on mfa_required_roles to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update (sealed_secret, last_used_step, confirmed_at, created_at), delete
    on mfa_credentials to lms_app;
grant select, insert, update (used_at), delete on mfa_recovery_codes to lms_app;
grant select, insert, update (failed_attempts, consumed_at), delete on mfa_challenges to lms_app;
grant select, insert, delete on mfa_required_roles to lms_app;

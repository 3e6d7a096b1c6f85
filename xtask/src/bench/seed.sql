-- One benchmark tenant, seeded as the cluster superuser (which row-level security does not
-- confine) with psql variables: slug, display_name, password_hash, courses, learners,
-- per_learner. Prints the new tenant's id.
--
-- Shape: `courses` published courses (titles, summaries, descriptions, tags, categories,
-- difficulty, language, some paid, some with a capacity), each with 2 modules of 5 items of
-- mixed kinds (8 of 10 required, never sequential) and one owner among 20 instructors;
-- `learners` active learners sharing one password hash; `per_learner` active self-enrollments
-- per learner on distinct courses. Ids are UUIDv7 like the server's.
\set ON_ERROR_STOP 1
begin;

-- UUIDv7 for a timestamp: 48-bit milliseconds, version 7, the rest random.
create function pg_temp.uuid7(ts timestamptz) returns uuid language sql volatile as $$
    select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch from ts) * 1000)::bigint) from 3)
        from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
$$;

insert into tenants (id, slug, display_name)
values (pg_temp.uuid7(now()), :'slug', :'display_name')
returning id as tenant_id \gset

create temp table seed_users on commit drop as
select n, pg_temp.uuid7(now() - interval '500 days' + n * interval '1 minute') as id,
       (array['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','John','Katherine',
              'Linus','Margaret','Niklaus','Radia','Ken','Sophie','Tim'])[1 + n % 16] || ' ' ||
       (array['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Backus',
              'Johnson','Torvalds','Hamilton','Wirth','Perlman','Thompson','Wilson','Berners'])
           [1 + (n / 16) % 16] as display_name
from generate_series(1, :learners + 20) n;

insert into users (tenant_id, id, email, display_name, password_hash, roles, status, created_at)
select :'tenant_id', id,
       case when n <= 20 then 'instructor' || n else 'learner' || (n - 20) end
           || '@' || :'slug' || '.example',
       display_name, :'password_hash',
       case when n <= 20 then array['instructor'] else array['learner'] end,
       'active', now() - interval '500 days' + n * interval '1 minute'
from seed_users;

create temp table seed_courses on commit drop as
select n,
       pg_temp.uuid7(now() - interval '2 years' + n * interval '10 hours') as id,
       now() - interval '2 years' + n * interval '10 hours' + interval '3 hours' as published_at,
       (array['Introduction to','Practical','Foundations of','Applied','Hands-on',
              'Essentials of','Advanced','Mastering'])[1 + n % 8] as prefix,
       (array['Python','SQL','Leadership','Negotiation','Kubernetes','Accounting',
              'Design Thinking','Data Visualization','Cybersecurity','Project Management',
              'Public Speaking','Machine Learning','Spreadsheets','Rust','Marketing Analytics',
              'Customer Success','UX Research','Statistics','Cloud Architecture',
              'Time Management'])[1 + (n / 8) % 20] as topic,
       (array['','for Teams','in Practice','at Work','Bootcamp','Deep Dive','Masterclass',
              'for Managers'])[1 + (n / 160) % 8] as suffix,
       (array['software','data','management','business','software','finance','design','data',
              'security','management','communication','data','business','software',
              'marketing','business','design','data','software','productivity'])
           [1 + (n / 8) % 20] as category
from generate_series(0, :courses - 1) n;

insert into courses (tenant_id, id, slug, title, summary, description, category, tags,
                     difficulty, language, estimated_minutes, thumbnail_url, price_minor,
                     currency, self_enrollment, capacity, sequential, status, published_at,
                     created_at, updated_at)
select :'tenant_id', c.id,
       trim(both '-' from regexp_replace(lower(c.prefix || ' ' || c.topic || ' ' || c.suffix),
                                         '[^a-z0-9]+', '-', 'g')) || '-' || c.n,
       trim(c.prefix || ' ' || c.topic || ' ' || c.suffix),
       format('%s %s: short lessons, worked examples, quizzes and a final assignment, at your own pace.',
              c.prefix, c.topic),
       format('This course takes you through %s step by step. Each module starts with a short '
              'reading, continues with videos and worked examples, and ends with a quiz that '
              'checks what you learned. The final assignment asks you to apply %s to a realistic '
              'case from your own work; a mentor reviews it within a week. You need no prior '
              'knowledge beyond what the prerequisites list, and you keep access to the '
              'material after you finish. Plan about %s hours in total, spread over a few weeks.',
              c.topic, c.topic, 1 + c.n % 12),
       c.category,
       array[lower(replace(c.topic, ' ', '-')), c.category,
             (array['video','hands-on','certificate','self-paced'])[1 + c.n % 4]],
       (array['beginner','beginner','intermediate','intermediate','intermediate','beginner',
              'advanced','advanced'])[1 + c.n % 8],
       (array['en','en','en','en','en','en','de','fr','es','pt-BR'])[1 + c.n % 10],
       30 + (c.n * 37) % 570,
       'https://cdn.' || :'slug' || '.example/thumbnails/' || c.n || '.jpg',
       case when c.n % 5 = 0 then 4900 else 0 end,
       case when c.n % 5 = 0 then 'EUR' end,
       true,
       case when c.n % 10 = 3 then 500 end,
       false, 'published', c.published_at, c.published_at - interval '3 hours', c.published_at
from seed_courses c;

insert into course_instructors (tenant_id, course_id, user_id, role, added_at)
select :'tenant_id', c.id, u.id, 'owner', c.published_at - interval '3 hours'
from seed_courses c join seed_users u on u.n = 1 + c.n % 20;

create temp table seed_modules on commit drop as
select c.n as course_n, c.id as course_id, m.position,
       pg_temp.uuid7(c.published_at - interval '2 hours') as id,
       case m.position when 0 then 'Getting started with ' || c.topic
                       else c.topic || ' in depth' end as title
from seed_courses c cross join generate_series(0, 1) as m(position);

insert into course_modules (tenant_id, id, course_id, position, title, summary)
select :'tenant_id', id, course_id, position, title, 'What you need to know about ' || title || '.'
from seed_modules;

-- Kinds by place in the course: text, video, document, quiz, video | external link, text,
-- video, assignment, quiz; the last item of each module is optional.
insert into course_items (tenant_id, id, course_id, module_id, position, kind, title, required,
                          body, url, duration_seconds)
select :'tenant_id', pg_temp.uuid7(now() - interval '2 years'), m.course_id, m.id, i.position,
       k.kind,
       initcap(replace(k.kind, '_', ' ')) || ' ' || (m.position * 5 + i.position + 1) || ': '
           || m.title,
       i.position <> 4,
       case when k.kind = 'text' then repeat('Read this carefully before the next step. ', 20) end,
       case k.kind when 'video' then 'https://video.example/' || m.id || '/' || i.position
                   when 'document' then 'https://files.example/' || m.id || '/handout.pdf'
                   when 'external_link' then 'https://en.wikipedia.org/wiki/Learning'
       end,
       case when k.kind = 'video' then 120 + (m.course_n * 13 + i.position * 61) % 900 end
from seed_modules m
cross join generate_series(0, 4) as i(position)
cross join lateral (
    select (array['text','video','document','quiz','video','external_link','text','video',
                  'assignment','quiz'])[1 + m.position * 5 + i.position] as kind
) k;

-- Learner n enrols in courses n*7 + k*101 (mod courses): distinct for k < 10 when courses
-- is 1000.
insert into enrollments (tenant_id, id, course_id, user_id, status, source, enrolled_by,
                         enrolled_at)
select :'tenant_id', pg_temp.uuid7(e.at), c.id, u.id, 'active', 'self', u.id, e.at
from seed_users u
cross join generate_series(0, :per_learner - 1) as k
join seed_courses c on c.n = ((u.n - 20) * 7 + k * 101) % :courses
cross join lateral (select now() - interval '90 days' + u.n * interval '1 minute'
                           + k * interval '1 day' as at) e
where u.n > 20;

commit;
select :'tenant_id';

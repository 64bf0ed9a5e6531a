"""The owner's Insights tab in Chromium, over a month of seeded conversations."""

from pathlib import Path
from typing import Any

import psycopg
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import delivered_late, screenshot, sign_in

Admin = psycopg.Connection[Any]

# A month of two avatars' conversations, written as a restore would (triggers off), then the per-day
# totals rebuilt from them. Questions 0-3 found sources; 4-7 did not, in two pairs that ask the same.
# Replies to questions 4-7, and to the question about sizes, are rated down.
# Every message is in the past at whatever time of day the test runs (a day's sessions fall in the part of
# the day that has gone by): a question asked after its answer was added would rightly count as still open.
SEED = """
set session_replication_role = replica;
create temporary table seed_visitors on commit drop as
  with added as (
    insert into auth.users (email)
    select 'insights-visitor-' || n || '-' || %(tag)s || '@example.test' from generate_series(1, 60) n
    returning id
  ) select id, row_number() over () as n from added;
create temporary table seed_sessions on commit drop as
  select gen_random_uuid() as id, v.id as user_id, a.id as avatar_id, c,
         date_trunc('day', now()) - make_interval(days => c %% 30)
           + (now() - date_trunc('day', now())) * ((8 + c %% 11) / 24.0) as started
    from generate_series(0, 299) c
    join seed_visitors v on v.n = 1 + c %% 60
    join (
      select id, row_number() over (order by name) - 1 as n from public.avatars where owner_id = %(owner)s
    ) a on a.n = c %% 2;
insert into public.streaming_sessions
  (id, user_id, avatar_id, owner_id, status, end_reason, provider, quality, started_at, ended_at, expires_at,
   last_activity_at, duration_seconds, message_count, channel, visitor_key, page_url)
select id, user_id, avatar_id, %(owner)s,
       case when c %% 31 = 0 then 'error' else 'ended' end,
       case when c %% 31 = 0 then 'provider_error: timeout' when c %% 7 = 0 then 'idle_timeout'
            when c %% 13 = 0 then 'expired' else 'user_ended' end,
       case when c %% 3 = 0 then 'heygen' else 'local' end, 'medium', started,
       started + make_interval(secs => 90 + c * 37 %% 300), started + interval '10 minutes',
       started + make_interval(secs => 90 + c * 37 %% 300), 90 + c * 37 %% 300, 2 * (2 + c %% 5), 'avatar',
       'browser-' || lpad((case when c < 150 then c %% 45 else c end)::text, 4, '0'),
       'https://shop.example/products'
  from seed_sessions;
insert into public.streaming_messages
  (session_id, user_id, owner_id, role, content, turn_id, source_chunk_ids, timings, prompt_tokens,
   completion_tokens, first_audible_ms, created_at)
select s.id, s.user_id, %(owner)s, r.role,
       case when r.role = 'user' then (array[
              'How do refunds work?', 'When will my parcel arrive?', 'Can I change my order?',
              'Which sizes do you stock?', 'Do you ship to Peru?', 'Can you ship to Peru?',
              'What are your opening hours on Sunday?', 'Opening hours on Sunday?'])[1 + q]
            when q >= 4 then 'I don''t know that from my knowledge base, so I can''t answer it.'
            else 'Refunds go back to your card within five days [1].' end,
       't' || t, case when r.role = 'assistant' and q < 4 then array[s.id] else '{}'::uuid[] end,
       case when r.role = 'assistant' then jsonb_build_object(
         'retrieval_ms', 8 + (s.c * 7 + t) %% 30, 'llm_first_token_ms', 260 + (s.c * 13 + t * 7) %% 400,
         'first_sentence_ms', 520 + (s.c * 17 + t * 11) %% 900) else '{}'::jsonb end,
       case when r.role = 'assistant' then 900 + s.c %% 300 end,
       case when r.role = 'assistant' then 45 end,
       case when r.role = 'assistant' and (s.c + t) %% 5 <> 0 then 1100 + (s.c * 23 + t * 5) %% 1500 end,
       least(now(), s.started + make_interval(secs => t * 30 + case when r.role = 'user' then 0 else 4 end))
  from seed_sessions s
  cross join generate_series(0, 1 + s.c %% 5) t
  cross join lateral (
    select case when (s.c + t) %% 9 = 0 then 4 + (s.c / 2 + t) %% 4 else (s.c + t) %% 4 end as q
  ) x
  cross join (values ('user'), ('assistant')) r (role);
insert into public.message_feedback (message_id, session_id, user_id, owner_id, rating, comment, created_at)
select a.id, a.session_id, a.user_id, a.owner_id,
       case when q.content like '%%sizes%%' or a.content like 'I don''t know%%' then -1 else 1 end,
       case when q.content like '%%sizes%%' then 'That size chart is out of date'
            when a.content like 'I don''t know%%' then 'It should know this' else '' end,
       a.created_at
  from public.streaming_messages a
  join public.streaming_messages q
    on q.session_id = a.session_id and q.turn_id = a.turn_id and q.role = 'user'
 where a.owner_id = %(owner)s and a.role = 'assistant' and a.turn_id in ('t0', 't1');
insert into public.avatar_session_events (session_id, user_id, owner_id, event_type, data)
select id, user_id, %(owner)s, 'disconnected', '{"provider": "heygen"}' from seed_sessions where c %% 37 = 0;
set session_replication_role = origin;
select private.rebuild_insights();
"""


def seed_month(admin: Admin, owner_email: str) -> None:
    row = admin.execute("select id from auth.users where email = %s", (owner_email,)).fetchone()
    assert row is not None
    for name in ("Ava", "Bea"):
        admin.execute("insert into public.avatars (owner_id, name) values (%s, %s)", (row["id"], name))
    with admin.transaction():
        for statement in SEED.split(";\n"):
            if statement.strip():
                admin.execute(statement.encode(), {"owner": row["id"], "tag": owner_email.split("@")[0]})


def sign_in_with_a_month(page: Page, base_url: str, admin: Admin, email: str) -> None:
    sign_in(page, base_url, email)
    seed_month(admin, email)


def test_an_owner_reads_a_month_in_charts_and_tables_and_answers_an_unanswered_question(
    page: Page, base_url: str, admin: Admin
) -> None:
    sign_in_with_a_month(page, base_url, admin, "insights-owner@example.test")
    page.reload()
    page.get_by_role("button", name="Ava", exact=True).click()
    page.get_by_role("tab", name="Insights").click()
    page.get_by_label("Which avatars").select_option(label="All my avatars")

    measures = page.locator(".measures li")
    expect(measures).to_have_count(8)
    expect(page.locator(".measures li[data-measure=latency_p90]")).to_have_attribute("data-state", "missed")
    expect(page.locator(".measures li[data-measure=cost]")).to_have_attribute("data-state", "met")
    # 45 browsers came back among the 195 that visited.
    expect(page.locator(".measures li[data-measure=returning]")).to_have_attribute("data-state", "missed")
    expect(page.locator(".tiles")).to_contain_text("23 % of 195")
    expect(page.locator(".tiles")).to_contain_text("Conversations300")
    figures = page.locator("figure.chart-card")
    expect(figures).to_have_count(5)
    expect(page.locator("figure[data-chart] svg.chart rect").first).to_be_visible()
    screenshot(page, "insights-overview")

    conversations = figures.first
    conversations.get_by_text("Show as table").click()
    table = conversations.locator("table")
    expect(table.locator("tbody tr")).to_have_count(30)
    expect(table.locator("thead")).to_contain_text("Ended by the visitor")
    conversations.scroll_into_view_if_needed()
    screenshot(page, "insights-table")

    # Per avatar: Peru and Sunday hours (each asked two ways) refused, sizes answered but rated down.
    expect(page.locator(".unanswered > li")).to_have_count(6)
    page.get_by_label("Which avatars").select_option(label="This avatar (Ava)")
    groups = page.locator(".unanswered > li")
    expect(groups).to_have_count(3)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = download.value
    assert exported.suggested_filename.endswith(".csv")
    assert Path(exported.path()).read_text().startswith("session_id,started_at,avatar_id,page_url")
    expect(groups.first.locator(".meta")).to_contain_text("asked")
    peru = groups.filter(has_text="Peru")
    expect(peru.locator(".meta")).to_contain_text("the avatar said it did not know")
    peru.get_by_role("button", name="Answer it").click()
    peru.get_by_label("Answer").fill("We ship to Peru in five to eight working days.")
    peru.scroll_into_view_if_needed()
    screenshot(page, "insights-answering")
    page.get_by_role("button", name="Add to knowledge").click()
    expect(page.locator(".insights-section [role=status]")).to_contain_text("being indexed")
    expect(groups).to_have_count(2)
    page.reload()
    page.get_by_role("tab", name="Insights").click()
    expect(page.locator(".unanswered > li")).to_have_count(2)
    expect(page.locator(".unanswered")).not_to_contain_text("Peru")


def test_a_late_answer_to_an_earlier_choice_never_replaces_the_newer_one(
    page: Page, base_url: str, admin: Admin
) -> None:
    """The owner switches to all avatars while the first avatar's figures are still on their way: when
    those arrive last, the page keeps showing all avatars' figures."""
    sign_in_with_a_month(page, base_url, admin, "insights-switcher@example.test")
    held: list[Route] = []

    def hold_the_first_avatars(route: Route) -> None:
        if "avatar_id=" in route.request.url:
            held.append(route)
        else:
            route.continue_()

    page.route("**/v1/insights**", hold_the_first_avatars)
    page.reload()
    page.get_by_role("button", name="Ava", exact=True).click()
    page.get_by_role("tab", name="Insights").click()
    page.wait_for_function(
        "() => document.querySelector('.insights-body')?.getAttribute('aria-busy') === 'true'"
    )
    page.get_by_label("Which avatars").select_option(label="All my avatars")
    tiles = page.locator(".tiles")
    expect(tiles).to_contain_text("23 % of 195")

    # Ava's own figures (report and unanswered questions) arrive now, after the newer ones.
    assert len(held) == 2
    for route in held:
        delivered_late(page, route, route.continue_)
    expect(tiles).to_contain_text("23 % of 195")
    expect(page.locator(".insights-body")).to_have_attribute("aria-busy", "false")

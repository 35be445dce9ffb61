/*
 * escalate.c - moving a conversation between pools: overflow after the
 * pool's max wait, agent transfers and escalations, customer escalations, bot
 * fallbacks and phrase triggers. Every move keeps the conversation (same id,
 * transcript, notes, history, arrival and priority) and records where it came
 * from, who moved it and why.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *esc_name(sb_esc_kind_t kind)
{
    return kind == SB_ESC_HIERARCHICAL ? "hierarchical" : "functional";
}

/*
 * Moves conv to pool `to`. Whoever held it (offer or assignment) is released
 * at once with RELEASED `released`; the conversation takes the new skills
 * when set_skills; history `ev` (from_pool, the releasing agent, kind,
 * reason, note); TRANSFERRING to the customer; then it is routed in the new
 * pool like an arrival that keeps its arrival and priority (to to_agent when
 * given, which must fit), and the released agent is matched with other work.
 * Cannot fail: callers check first.
 */
void core__move(sb_core_t *core, sb_conv_t *conv, int to, sb_event_kind_t ev,
                sb_esc_kind_t kind, const char *released, const char *reason,
                const char *note, const sb_skill_req_t *skills, size_t nskills,
                bool set_skills, agent_ext_t *to_agent, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    agent_ext_t *holder = conv->agent ? core__ax(conv->agent) : NULL;
    int from = conv->pool;
    core_tpl_var_t vars[] = { { "pool", core->cfg->pools[to].id } };
    sb_action_t *act;

    if (cx->queued_pool >= 0)
        core__dequeue(core, conv);
    if (holder) {
        if (conv->state == SB_CONV_OFFERED) {
            core__timer_cancel(&core->timers, &cx->t_offer);
            core->pools[from].offers_pending--;
        }
        core__release_slot(core, holder, conv, false, now);
        core__act(core, SB_ACT_RELEASED, conv, &holder->pub)->reason = released;
        conv->agent = NULL;
    }
    if (set_skills) {
        free(conv->skills);
        conv->skills = NULL;
        conv->nskills = 0;
        if (nskills) {
            conv->skills = sb_malloc(nskills * sizeof(*skills));
            memcpy(conv->skills, skills, nskills * sizeof(*skills));
            conv->nskills = nskills;
        }
    }
    conv->pool = to;
    conv->state = SB_CONV_QUEUED;
    conv->entered_pool_at = now;
    conv->relaxed = 0;
    conv->bot_fallbacks = 0;
    cx->wait_since = now;
    cx->next_step = 0;
    cx->qnode.front = 0;
    core__event(core, conv, ev, from, holder ? holder->pub.cfg->id : NULL, esc_name(kind),
                reason, note, now);
    act = core__act(core, SB_ACT_TRANSFERRING, conv, NULL);
    act->pool = to;
    act->esc_kind = esc_name(kind);
    act->text = core__text(core, conv, SB_TPL_TRANSFERRING, vars, 1);
    core__arm_wait_timers(core, conv);
    if (to_agent)
        core__give(core, conv, to_agent, now);
    else
        core__route(core, conv, holder ? &holder->pub : NULL, now);
    if (holder)
        core__match_agent(core, holder, conv, now);
}

/* The pool's max wait passed with no assignment: overflow (functional) to
 * its overflow pool. An offer out at that moment is let run: the check comes
 * back when it ends. */
void core__max_wait(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    int to = core->cfg->pools[conv->pool].overflow;

    if (conv->state == SB_CONV_OFFERED) {
        core__timer_arm(&core->timers, &cx->t_maxwait, cx->t_offer.at);
        return;
    }
    if (conv->state != SB_CONV_QUEUED || to < 0 || to == conv->pool)
        return;
    core__move(core, conv, to, SB_EV_OVERFLOW, SB_ESC_FUNCTIONAL, NULL, "max_wait", NULL,
               NULL, 0, false, NULL, now);
}

/* Whether skills (as a set of skill -> level) differ from the conversation's. */
static bool skills_differ(const sb_conv_t *conv, const sb_skill_req_t *skills, size_t n)
{
    if (n != conv->nskills)
        return true;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < conv->nskills && !found; j++)
            found = conv->skills[j].skill == skills[i].skill &&
                    conv->skills[j].level == skills[i].level;
        if (!found)
            return true;
    }
    return false;
}

static bool limit_reached(const sb_core_t *core, const sb_conv_t *conv)
{
    return conv->escalations >= core->cfg->esc_max_per_conversation;
}

int sb_core_agent_transfer(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                           int to_pool, sb_agent_t *to_agent,
                           const sb_skill_req_t *skills, size_t nskills,
                           const char *note, sb_ms_t now)
{
    int target, rc;
    bool new_skills;

    if (!core || !agent || !conv || (to_pool >= 0 && (size_t)to_pool >= core->npools) ||
        (!skills && nskills))
        return SB_EINVAL;
    for (size_t i = 0; i < nskills; i++)
        if (skills[i].skill < 0 || (size_t)skills[i].skill >= core->cfg->nskills ||
            skills[i].level < 0 || skills[i].level > 10)
            return SB_EINVAL;
    if ((rc = core__check_owner(agent, conv)) != SB_OK)
        return rc;
    if (limit_reached(core, conv))
        return SB_ECONFLICT;
    target = to_pool >= 0 ? to_pool : conv->pool;
    new_skills = skills && skills_differ(conv, skills, nskills);
    if (target == conv->pool && !new_skills && !to_agent)
        return SB_ECONFLICT;
    if (to_agent) {
        /* the named agent must fit the conversation as it will be */
        sb_conv_t view = *conv;
        view.pool = target;
        view.relaxed = 0;
        if (skills) {
            view.skills = (sb_skill_req_t *)skills;
            view.nskills = nskills;
        }
        if (to_agent == agent || !core__fits(core, to_agent, &view, target))
            return SB_ECONFLICT;
    }
    core__enter(core);
    conv->escalations++;
    core__move(core, conv, target, SB_EV_TRANSFERRED, SB_ESC_FUNCTIONAL, "transferred", NULL,
               note, skills, nskills, skills != NULL, to_agent ? core__ax(to_agent) : NULL,
               now);
    core__flush_notices(core, now);
    return SB_OK;
}

int sb_core_agent_escalate(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                           const char *note, sb_ms_t now)
{
    int target, rc;

    if (!core || !agent || !conv)
        return SB_EINVAL;
    if ((rc = core__check_owner(agent, conv)) != SB_OK)
        return rc;
    target = core->cfg->pools[conv->pool].escalate_to;
    if (target < 0 || target == conv->pool || limit_reached(core, conv))
        return SB_ECONFLICT;
    core__enter(core);
    conv->escalations++;
    core__move(core, conv, target, SB_EV_ESCALATED, SB_ESC_HIERARCHICAL, "escalated", NULL,
               note, NULL, 0, false, NULL, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* Escalates conv, whoever holds it, to `to` (checked by the caller). */
static void escalate(sb_core_t *core, sb_conv_t *conv, int to, sb_esc_kind_t kind,
                     const char *reason, sb_ms_t now)
{
    conv->escalations++;
    core__move(core, conv, to, SB_EV_ESCALATED, kind, "escalated", reason, NULL, NULL, 0,
               false, NULL, now);
}

/* Where a conversation goes when it asks (or its bot gives up): the pool's
 * escalate_to (hierarchical), else, from a bot pool (tier 0) or a bot, its
 * overflow (functional). -1 when nowhere. */
static int escalation_target(const sb_core_t *core, const sb_conv_t *conv,
                             sb_esc_kind_t *kind)
{
    const sb_cfg_pool_t *pc = &core->cfg->pools[conv->pool];
    bool bot = conv->state == SB_CONV_BOT || pc->tier == 0;

    *kind = SB_ESC_HIERARCHICAL;
    if (pc->escalate_to >= 0 && pc->escalate_to != conv->pool)
        return pc->escalate_to;
    *kind = SB_ESC_FUNCTIONAL;
    if (bot && pc->overflow >= 0 && pc->overflow != conv->pool)
        return pc->overflow;
    return -1;
}

int sb_core_customer_escalate(sb_core_t *core, sb_conv_t *conv, const char *reason,
                              sb_ms_t now)
{
    sb_esc_kind_t kind;
    int target;

    if (!core || !conv)
        return SB_EINVAL;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    target = escalation_target(core, conv, &kind);
    if (target < 0 || limit_reached(core, conv))
        return SB_ECONFLICT;
    core__enter(core);
    escalate(core, conv, target, kind, reason && *reason ? reason : "customer", now);
    core__flush_notices(core, now);
    return SB_OK;
}

int sb_core_conv_escalate(sb_core_t *core, sb_conv_t *conv, sb_esc_kind_t kind, int to_pool,
                          const char *reason, sb_ms_t now)
{
    int target;

    if (!core || !conv || (to_pool >= 0 && (size_t)to_pool >= core->npools) ||
        (kind != SB_ESC_FUNCTIONAL && kind != SB_ESC_HIERARCHICAL))
        return SB_EINVAL;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    if (kind == SB_ESC_HIERARCHICAL)
        target = to_pool >= 0 ? to_pool : core->cfg->pools[conv->pool].escalate_to;
    else if (to_pool < 0)
        return SB_EINVAL;
    else
        target = to_pool;
    if (target < 0 || target == conv->pool || limit_reached(core, conv))
        return SB_ECONFLICT;
    core__enter(core);
    escalate(core, conv, target, kind, reason, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* A bot answered: a fallback counts toward escalation.bot_fallbacks (in a
 * row), any other answer resets the count; at the limit the conversation
 * escalates to humans (the pool's escalate_to, else its overflow) with
 * reason "bot_fallbacks". Silently stays when there is nowhere to go or the
 * escalation limit is reached. */
void core__bot_answered(sb_core_t *core, sb_conv_t *conv, bool fallback, sb_ms_t now)
{
    sb_esc_kind_t kind;
    int target;

    if (!fallback) {
        conv->bot_fallbacks = 0;
        return;
    }
    conv->bot_fallbacks++;
    core__save(core, conv);
    if (core->cfg->esc_bot_fallbacks <= 0 || conv->bot_fallbacks < core->cfg->esc_bot_fallbacks)
        return;
    target = escalation_target(core, conv, &kind);
    if (target < 0 || limit_reached(core, conv))
        return;
    escalate(core, conv, target, kind, "bot_fallbacks", now);
}

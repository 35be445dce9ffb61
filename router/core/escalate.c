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

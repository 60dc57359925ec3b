"""What the advice workflow announces, for the apps that act on advice (reports, notifications).

Each is sent inside the transaction of the step, with `advice=<Advice>`; a receiver that queues
work does so on commit, one that writes does so in the same transaction (an error rolls the
step back). docs/architecture.md lists who listens.
"""

from django.dispatch import Signal

# A new advice was computed (kind sample or toxicity), in state draft.
advice_created = Signal()
# The pharmacist released the advice to the physicians.
advice_released = Signal()
# The physician accepted or rejected the advice with their signature.
advice_signed = Signal()
# Released advice was superseded before it was signed, because its sample was corrected or
# cancelled: `replacement=<Advice | None>` (the advice computed again, if any) and
# `reason=<str>` (why, for the physicians it was released to).
advice_superseded = Signal()
# A user opened the advice page (`reader=<User>`): what they were notified of is now seen.
advice_opened = Signal()
# A user's signing was locked after repeated wrong signature passwords (`lock=<SigningLock>`,
# `advice=<Advice>` the last attempt was for): the administrators are told.
signing_locked = Signal()

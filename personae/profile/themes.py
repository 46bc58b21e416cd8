"""What a theme of the facts suggests, by side ("up": more of the theme, "down": less): a
need, an opportunity and the SAYS / THINKS / FEELS hypotheses of the empathy map.

The words are the users' domain's, not a shop's: no order, basket or spend, since any run can
reach them (a persona names the fact each one comes from).
"""

from __future__ import annotations

# What a theme tells us about needs, opportunities and hypotheses, by side.
NEEDS: dict[tuple[str, str], str] = {
    ("engagement", "up"): "depth: shortcuts, advanced features, more to do",
    ("engagement", "down"): "a reason to come back and a quick path to value",
    ("value", "up"): "recognition and a premium, friction-free service",
    ("value", "down"): "confidence that going further is worth it",
    ("loyalty", "up"): "to feel that their loyalty is noticed and rewarded",
    ("loyalty", "down"): "a reminder of what they liked and a reason to return",
    ("exploration", "up"): "discovery: breadth, recommendations, new things",
    ("exploration", "down"): "to find their usual things fast",
    ("social", "up"): "ways to share and connect",
    ("social", "down"): "value without having to be social",
    ("creation", "up"): "tools to create and an audience",
    ("creation", "down"): "good content made by others",
    ("price sensitivity", "up"): "clear prices, deals and value for money",
    ("price sensitivity", "down"): "quality and convenience over price",
    ("risk", "up"): "reassurance: fewer things going wrong, help at the right time",
    ("risk", "down"): "reliability: nothing should break what works",
    ("timing", "up"): "service at the hours they are active",
    ("timing", "down"): "service at the hours they are active",
}
OPPORTUNITIES: dict[tuple[str, str], str] = {
    ("engagement", "up"): "power features and early access",
    ("engagement", "down"): "onboarding, reminders and a simpler first step",
    ("value", "up"): "a premium tier and recognition",
    ("value", "down"): "entry offers and showing value before asking for more",
    ("loyalty", "up"): "loyalty programme and referral rewards",
    ("loyalty", "down"): "win-back campaign timed before they lapse",
    ("exploration", "up"): "personalised discovery and new-arrival alerts",
    ("exploration", "down"): "shortcuts to their usual things and favourites",
    ("social", "up"): "sharing, communities and referrals",
    ("social", "down"): "private, personal recommendations",
    ("creation", "up"): "creator tools and showcases",
    ("creation", "down"): "curated collections",
    ("price sensitivity", "up"): "price alerts, deals and transparent pricing",
    ("price sensitivity", "down"): "premium ranges and speed of service",
    ("risk", "up"): "find and fix what goes wrong for them; proactive support",
    ("risk", "down"): "keep the experience stable; ask them for feedback",
    ("timing", "up"): "schedule messages and support for their hours",
    ("timing", "down"): "schedule messages and support for their hours",
}
HYPOTHESES: dict[tuple[str, str], tuple[str, str, str]] = {
    # (says, thinks, feels)
    ("engagement", "up"): ("\"I get a lot out of this.\"", "Is there more I could do here?",
                           "at home, invested"),
    ("engagement", "down"): ("\"I do what I came for and leave.\"",
                             "Is this worth my time?", "indifferent or unsure"),
    ("value", "up"): ("\"I don't mind investing in what works.\"",
                      "Am I treated as someone who counts?", "confident, demanding"),
    ("value", "down"): ("\"I only go further when I really need to.\"",
                        "Is this worth it?", "cautious"),
    ("loyalty", "up"): ("\"This is my usual place.\"", "I know what I get here.",
                        "trusting, attached"),
    ("loyalty", "down"): ("\"I haven't thought about it in a while.\"",
                          "There are other options.", "detached"),
    ("exploration", "up"): ("\"Show me something new.\"", "What else is there?",
                            "curious"),
    ("exploration", "down"): ("\"I know what I want.\"", "Don't make me search.",
                              "impatient with detours"),
    ("social", "up"): ("\"Look what I found.\"", "My friends would like this.",
                       "connected"),
    ("social", "down"): ("\"I just want to get it done.\"", "This is personal.",
                         "private"),
    ("creation", "up"): ("\"I made this.\"", "Who will see my work?", "proud"),
    ("creation", "down"): ("\"I'm just looking.\"", "Others know better.", "comfortable"),
    ("price sensitivity", "up"): ("\"Is there a discount?\"", "I could get it cheaper.",
                                  "wary of overpaying"),
    ("price sensitivity", "down"): ("\"I want the good one.\"", "Time matters more than price.",
                                    "relaxed about price"),
    ("risk", "up"): ("\"This didn't work out for me.\"", "Maybe I'll try elsewhere.",
                     "frustrated or let down"),
    ("risk", "down"): ("\"It just works.\"", "No reason to change.", "settled"),
    ("timing", "up"): ("\"I get to it when the day is done.\"", "This fits my routine.",
                       "at ease"),
    ("timing", "down"): ("\"I do this first thing.\"", "This fits my routine.", "at ease"),
}

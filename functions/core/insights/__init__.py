"""Owner insights: what visitors asked, what went unanswered, what it cost and how fast it was."""

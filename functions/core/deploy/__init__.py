"""Deploying to Supabase and AWS: checking the cloud settings and uploading the static site."""

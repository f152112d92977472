# Read by the flask command (python-dotenv): `flask users ...` works from the checkout without
# exporting FLASK_APP. Site settings go in .env (see .env.example), not here.
FLASK_APP=backend

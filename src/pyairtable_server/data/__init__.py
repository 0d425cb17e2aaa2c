"""The data API's logic below the routes: table schemas, record values, queries, cursors."""

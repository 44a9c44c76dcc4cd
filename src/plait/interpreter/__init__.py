"""The interpreter: runs a compiled definition (a Plan) as an ordinary durable workflow."""

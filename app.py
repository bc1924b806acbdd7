"""The afmatting web app: ``python app.py [--model DIR_OR_HUB_ID]``.

Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860). The app lives in the package
``afmatting/app/`` so that the Hugging Face Space (space/app.py) runs the very same code.
"""

import sys

from afmatting.app import main

if __name__ == "__main__":
    sys.exit(main())

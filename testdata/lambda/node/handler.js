// The seed handler of issue 6, as users write it for AWS Lambda (Node.js).
exports.handler = async (event, context) => {
  const body = JSON.parse(event.body || '{}');
  return {
    statusCode: 200,
    body: JSON.stringify({
      message: 'Processed by AWS Lambda',
      input: body,
      timestamp: new Date().toISOString(),
    }),
    headers: { 'Content-Type': 'application/json' },
  };
};
